// Every native entry point, called with wrong types and arity: a TypeError, never a crash.
// Each batch runs in a child process so that a crash would fail the test instead of killing jest.
import { loadNative } from '../../lib/backend/native';
import { ROOT, runNode } from '../helpers/node-child';

const WRONG = [
  'undefined',
  'null',
  '0',
  '-1',
  '1.5',
  'NaN',
  '2**40',
  '"str"',
  '{}',
  '[]',
  'Symbol("s")',
  '10n',
  'Buffer.alloc(0)',
  'new Float64Array(2)',
  'new Int32Array([-1])',
  '() => 1',
];

const ENTRY_POINTS: Record<string, string[]> = {
  libsystemdInfo: [],
  sdNotify: ['false', 'Buffer.from("X=1")', 'null'],
  sdPidNotify: ['0', 'false', 'Buffer.from("X=1")', 'Buffer.from("/nonexistent")'],
  sdPidNotifyWithFds: ['0', 'false', 'Buffer.from("X=1")', 'null', 'null'],
  getenv: ['"HOME"'],
  sendUnix: ['Buffer.from("/nonexistent")', 'Buffer.from("X=1")', 'null', 'null'],
  probeUnix: ['Buffer.from("/nonexistent")'],
  pipeCloexec: [],
  closeFd: ['0x7ffffff0'],
  hungUp: ['0x7ffffff0'],
  memfdSealed: ['Buffer.from("x")', 'Buffer.from("data")'],
  setCloexec: ['0x7ffffff0'],
  fdInfo: ['0x7ffffff0'],
  listenUnix: ['Buffer.from("/nonexistent/dir/sock")', '16'],
  bindUnix: ['Buffer.from("/nonexistent/dir/sock")'],
  recvUnix: ['0x7ffffff0'],
};

test('the addon exposes exactly the entry points this test covers', () => {
  const loaded = loadNative();
  if (!loaded.ok) throw loaded.error;
  expect(Object.keys(loaded.binding).sort()).toEqual(Object.keys(ENTRY_POINTS).sort());
});

describe.each(Object.entries(ENTRY_POINTS))('%s', (fn, good) => {
  test('valid arguments return a value without throwing', () => {
    const r = runNode(
      `const b = require(${JSON.stringify(`${ROOT}/build/Release/sdnotify.node`)}); out(typeof b.${fn}(${good.join(', ')}));`,
    );
    expect(r.status).toBe(0);
    expect(['number', 'object', 'string', 'undefined']).toContain(r.results[0]);
  });

  test('every wrong type in every position, and every wrong arity, throws TypeError and the process survives', () => {
    const calls: string[] = [];
    for (let i = 0; i < good.length; i++) {
      for (const w of WRONG) {
        const args = [...good];
        args[i] = w;
        calls.push(args.join(', '));
      }
    }
    calls.push([...good, '0'].join(', '));
    if (good.length > 0) calls.push(good.slice(0, -1).join(', '));
    const script = `const b = require(${JSON.stringify(`${ROOT}/build/Release/sdnotify.node`)});
      const outcomes = [];
      for (const c of ${JSON.stringify(calls)}) {
        let r;
        try { r = 'returned ' + String(new Function('b', 'return b.${fn}(' + c + ')')(b)); }
        catch (e) { r = e instanceof TypeError ? 'TypeError' : 'other: ' + e; }
        outcomes.push([c, r]);
      }
      out(outcomes);`;
    const r = runNode(script);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const outcomes = r.results[0] as [string, string][];
    expect(outcomes).toHaveLength(calls.length);
    // A wrong value may be acceptable where the types allow it (e.g. null fds): those must return.
    for (const [call, outcome] of outcomes) {
      expect([call, outcome]).toEqual([call, expect.stringMatching(/^(TypeError|returned .*)$/)]);
    }
    // Wrong arity is always a TypeError.
    expect(outcomes.at(-1)![1]).toBe('TypeError');
  });
});

describe('drop-in functions with wrong types', () => {
  test.each([
    ['sd_notify("yes", "READY=1")', TypeError],
    ['sd_notify(0, 42)', TypeError],
    ['sd_notify(0, "READY=1\\0STATUS=x")', TypeError],
    ['sd_pid_notify("1", 0, "READY=1")', TypeError],
    ['sd_pid_notify(1.5, 0, "READY=1")', TypeError],
    ['sd_pid_notify(2 ** 31, 0, "READY=1")', TypeError],
    ['sd_pid_notify_with_fds(0, 0, "FDSTORE=1", "3")', TypeError],
    ['sd_pid_notify_with_fds(0, 0, "FDSTORE=1", [1.5])', TypeError],
    ['sd_pid_notify_with_fds(0, 0, "FDSTORE=1", [{}])', TypeError],
    ['sd_pid_notify_with_fds(0, 0, "FDSTORE=1", [, 3])', TypeError],
  ])('%s throws %p, with or without a NOTIFY_SOCKET', (call, type) => {
    for (const socket of [undefined, '/nonexistent']) {
      const r = runNode(
        `try { out(sdnotify.${call}) } catch (e) { out(e.constructor.name + ': ' + e.message) }`,
        {
          NOTIFY_SOCKET: socket,
        },
      );
      expect(r.results[0]).toMatch(new RegExp(`^${type.name}: sd_\\w+: `));
    }
  });

  test.each(['libsystemd', 'builtin'])(
    "values C could pass are the kernel's to answer, as in C: a negative fd is -EBADF (%s)",
    (backend) => {
      const r = runNode(
        `const { NotifyListener } = require(${JSON.stringify(`${ROOT}/dist/testing`)});
         NotifyListener.create().then((l) => {
           process.env.NOTIFY_SOCKET = l.notifySocket;
           out([sdnotify.sd_pid_notify_with_fds(0, 0, 'FDSTORE=1', [-1]), sdnotify.backendInfo().name]);
           l.close();
         });`,
        { SDNOTIFY_BACKEND: backend },
      );
      expect(r.stderr).toBe('');
      expect(r.results).toEqual([[-9, backend]]);
    },
  );

  test.each(['libsystemd', 'builtin'])(
    'more than 253 fds return -EINVAL on the %s backend (libsystemd itself would abort in alloca)',
    (backend) => {
      const r = runNode(
        `out([sdnotify.sd_pid_notify_with_fds(0, 0, 'FDSTORE=1', new Int32Array(3e6).fill(1)), sdnotify.backendInfo().name])`,
        { NOTIFY_SOCKET: '/nonexistent', SDNOTIFY_BACKEND: backend },
      );
      expect(r.status).toBe(0);
      expect(r.results).toEqual([[-22, backend]]);
    },
  );

  test('a NULL state (null) returns -EINVAL as in C', () => {
    const r = runNode(`out(sdnotify.sd_notify(0, null))`, { NOTIFY_SOCKET: '/nonexistent' });
    expect(r.results).toEqual([-22]);
  });
});
