import { notify, ready } from '../../lib';
import { setNotifySocket } from '../helpers/env';

describe('notify() options', () => {
  beforeEach(() => setNotifySocket(undefined));

  test('a hole in a sparse fds array is an error, not a silent fd 0 (stdin)', () => {
    expect(() => notify({ fdStore: true, fdName: 'x' }, { fds: [, 3] as number[] })).toThrow(
      /options\.fds\[0\] must be a number, got undefined/,
    );
    expect(() => notify({ fdStore: true, fdName: 'x' }, { fds: new Array<number>(2) })).toThrow(
      TypeError,
    );
  });

  test('fds may be an Int32Array', () => {
    expect(notify({ fdStore: true, fdName: 'x' }, { fds: Int32Array.of(3) })).toBe(false);
  });

  test('each option is read once, so a getter cannot change it between check and send', () => {
    let reads = 0;
    const options = {
      get pid() {
        reads += 1;
        return reads === 1 ? 0 : ('abc' as unknown as number);
      },
    };
    expect(notify({ ready: true }, options)).toBe(false);
    expect(reads).toBe(1);
  });

  test('an argument error leaves NOTIFY_SOCKET alone even with unsetEnvironment', () => {
    setNotifySocket('/run/x');
    expect(() => notify({ status: 'a\nb' }, { unsetEnvironment: true })).toThrow(RangeError);
    expect(process.env.NOTIFY_SOCKET).toBe('/run/x');
  });

  test('shorthands name themselves in argument errors', () => {
    expect(() => ready(42 as never)).toThrow(
      /^ready\(status\): status must be a string, got number$/,
    );
  });
});
