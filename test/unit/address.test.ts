import { parseNotifySocket } from '../../lib';

describe('NOTIFY_SOCKET parsing', () => {
  test('an absolute path becomes its bytes, without a NUL or padding', () => {
    const a = parseNotifySocket('/run/systemd/notify');
    expect(a).toMatchObject({ kind: 'unix', abstract: false });
    expect(typeof a !== 'string' && a.kind === 'unix' && a.sunPath.toString()).toBe(
      '/run/systemd/notify',
    );
  });

  test('"@name" becomes a leading NUL then the name (abstract namespace)', () => {
    const a = parseNotifySocket('@sd-notify/abc');
    expect(typeof a !== 'string' && a.kind === 'unix' && [...a.sunPath]).toEqual([
      0,
      ...Buffer.from('sd-notify/abc'),
    ]);
  });

  test('a path of 107 bytes fits and one of 108 is refused with ENAMETOOLONG (as libsystemd), never truncated', () => {
    expect(parseNotifySocket('/' + 'a'.repeat(106))).toMatchObject({ kind: 'unix' });
    expect(parseNotifySocket('/' + 'a'.repeat(107))).toMatchObject({
      kind: 'invalid',
      code: 'ENAMETOOLONG',
      reason: expect.stringMatching(/108 bytes.*at most 107/),
    });
  });

  test('an abstract name holds 106 bytes after "@"; longer is EINVAL (as libsystemd)', () => {
    expect(parseNotifySocket('@' + 'a'.repeat(106))).toMatchObject({ kind: 'unix' });
    expect(parseNotifySocket('@' + 'a'.repeat(107))).toMatchObject({
      kind: 'invalid',
      code: 'EINVAL',
    });
  });

  test('vsock forms carry type, CID and port', () => {
    expect(parseNotifySocket('vsock:2:1234')).toMatchObject({
      kind: 'vsock',
      type: undefined,
      cid: 2,
      port: 1234,
    });
    expect(parseNotifySocket('vsock-stream:3:5')).toMatchObject({
      kind: 'vsock',
      type: 'stream',
      cid: 3,
      port: 5,
    });
    expect(parseNotifySocket('vsock-dgram:0x10:7')).toMatchObject({
      kind: 'vsock',
      type: 'dgram',
      cid: 16,
    });
    expect(parseNotifySocket('vsock-seqpacket:1:1')).toMatchObject({ type: 'seqpacket' });
  });

  test.each([
    ['relative/path', /absolute path/],
    ['', /absolute path/],
    ['@', /names no socket/],
    ['/', /names no socket/],
    ['/a\0b', /NUL/],
    ['vsock:4294967295:1', /CID/],
    ['vsock:x:1', /CID/],
    ['vsock:2:-1', /PORT/],
    ['vsock-raw:2:1', /absolute path/],
  ])('%j is refused with a reason and EINVAL', (value, reason) => {
    expect(parseNotifySocket(value)).toMatchObject({
      kind: 'invalid',
      code: 'EINVAL',
      reason: expect.stringMatching(reason),
    });
  });
});
