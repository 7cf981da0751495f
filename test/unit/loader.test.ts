import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';

import { NotifyListener } from '../../lib/testing';
import { ROOT, runNode } from '../helpers/node-child';

// Counts native modules loaded through process.dlopen from here on.
const countDlopen = `let dlopens = 0; const orig = process.dlopen; process.dlopen = function (...a) { dlopens++; return orig.apply(this, a); };\n`;

describe('backend loader', () => {
  test('importing the package loads no native code and compiles none of the library', () => {
    const r = runNode(
      `out(Object.keys(require.cache).map((f) => require('path').relative(${JSON.stringify(ROOT)}, f)))`,
    );
    expect(r.results).toEqual([['dist/index.js']]); // the facade; dist/sdnotify.js loads on first use
  });

  test('named imports work from ESM through the lazy facade', () => {
    const entry = JSON.stringify(`${ROOT}/dist/index.js`);
    const code = `import { notify, SdNotifyError, MAX_FDS } from ${entry};
      console.log(JSON.stringify([typeof notify, typeof SdNotifyError, MAX_FDS, notify({ ready: true })]));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
      encoding: 'utf8',
      env: { ...process.env, NOTIFY_SOCKET: '' },
    });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual(['function', 'function', 253, false]);
  });

  test('with NOTIFY_SOCKET unset, calls return false/0 and never load the addon', () => {
    const r = runNode(
      countDlopen +
        `out([sdnotify.ready('x'), sdnotify.notify({ status: 'y' }), sdnotify.sd_notify(0, 'READY=1'), sdnotify.sd_pid_notify_with_fds(0, 1, 'FDSTORE=1', [0])]); out(dlopens);`,
    );
    expect(r.stderr).toBe('');
    expect(r.results).toEqual([[false, false, 0, 0], 0]);
  });

  test.each(['libsystemd', 'builtin'])(
    'SDNOTIFY_BACKEND=%s forces that backend and says so',
    (name) => {
      const r = runNode(`out(sdnotify.backendInfo())`, { SDNOTIFY_BACKEND: name });
      expect(r.results[0]).toMatchObject({
        name,
        forced: true,
        reason: `forced by SDNOTIFY_BACKEND=${name}`,
      });
    },
  );

  test('by default libsystemd is chosen where it loads, with the library path as the reason', () => {
    const r = runNode(`out(sdnotify.backendInfo())`);
    expect(r.results[0]).toMatchObject({ name: 'libsystemd', forced: false });
    expect(r.results[0].reason).toMatch(/libsystemd\.so\.0 provides sd_pid_notify_with_fds/);
    expect(r.results[0].libsystemdPath).toMatch(/libsystemd\.so\.0/);
  });

  test('an unknown SDNOTIFY_BACKEND value selects no transport and names the value', () => {
    const r = runNode(`out(sdnotify.backendInfo())`, { SDNOTIFY_BACKEND: 'systemd' });
    expect(r.results[0]).toMatchObject({ name: 'none' });
    expect(r.results[0].reason).toMatch(
      /SDNOTIFY_BACKEND=systemd is not "libsystemd" or "builtin"/,
    );
  });

  test('a send with an unknown SDNOTIFY_BACKEND fails with a hint about that variable, not the addon', () => {
    const r = runNode(`try { sdnotify.ready() } catch (e) { out([e.code, e.hint]) }`, {
      SDNOTIFY_BACKEND: 'bogus',
      NOTIFY_SOCKET: '/run/x',
    });
    expect(r.results[0][0]).toBe('ERR_SDNOTIFY_NO_TRANSPORT');
    expect(r.results[0][1]).toMatch(/set SDNOTIFY_BACKEND to "libsystemd" or "builtin"/);
  });

  test('NODE_DEBUG=sdnotify prints the chosen backend and why', () => {
    const r = runNode(`sdnotify.backendInfo()`, {
      NODE_DEBUG: 'sdnotify',
      SDNOTIFY_BACKEND: 'builtin',
    });
    expect(r.stderr).toMatch(/SDNOTIFY \d+: backend builtin: forced by SDNOTIFY_BACKEND=builtin/);
  });

  describe('a missing addon (simulated with SDNOTIFY_ADDON_PATH)', () => {
    const env = { SDNOTIFY_ADDON_PATH: '/nonexistent/sdnotify.node' };

    test('selects the none backend and keeps the load error as the reason', () => {
      const r = runNode(`out(sdnotify.backendInfo())`, env);
      expect(r.results[0].name).toBe('none');
      expect(r.results[0].reason).toMatch(
        /native addon could not be loaded: .*\/nonexistent\/sdnotify\.node/,
      );
    });

    test('unsupervised calls still succeed: false and 0', () => {
      const r = runNode(`out([sdnotify.ready(), sdnotify.sd_notify(0, 'READY=1')])`, env);
      expect(r.results).toEqual([[false, 0]]);
    });

    test('with NOTIFY_SOCKET set, notify() throws ERR_SDNOTIFY_NO_TRANSPORT with the load error as cause', () => {
      const r = runNode(
        `try { sdnotify.ready(); out('sent?') } catch (e) { out({ name: e.name, code: e.code, hint: e.hint, cause: String(e.cause) }) }`,
        { ...env, NOTIFY_SOCKET: '/run/whatever' },
      );
      expect(r.results[0]).toMatchObject({
        name: 'SdNotifyError',
        code: 'ERR_SDNOTIFY_NO_TRANSPORT',
      });
      expect(r.results[0].hint).toMatch(/npm rebuild sdnotify/);
      expect(r.results[0].cause).toMatch(/nonexistent/);
    });

    test('with NOTIFY_SOCKET set, the drop-in returns -ENOSYS and warns once', () => {
      const r = runNode(
        `out([sdnotify.sd_notify(0, 'READY=1'), sdnotify.sd_notify(0, 'STATUS=x')])`,
        {
          ...env,
          NOTIFY_SOCKET: '/run/whatever',
        },
      );
      expect(r.results).toEqual([[-38, -38]]);
      expect(r.stderr.match(/SDNOTIFY_NO_TRANSPORT/g)).toHaveLength(1);
      expect(r.stderr).toMatch(
        /NOTIFY_SOCKET is set but sdnotify cannot send: the native addon could not be loaded/,
      );
    });
  });

  test('a worker thread with its own NOTIFY_SOCKET is heard (libsystemd would read the process env)', async () => {
    const listener = await NotifyListener.create();
    try {
      const worker = new Worker(
        `const s = require(${JSON.stringify(ROOT)}); require('node:worker_threads').parentPort.postMessage([s.backendInfo().name, s.ready('from a worker')]);`,
        {
          eval: true,
          env: {
            ...process.env,
            NOTIFY_SOCKET: listener.notifySocket,
            SDNOTIFY_BACKEND: 'libsystemd',
          },
        },
      );
      const [reply, msg] = await Promise.all([
        new Promise((r) => worker.once('message', r)),
        listener.next(),
      ]);
      expect(reply).toEqual(['libsystemd', true]);
      expect(msg.raw.toString()).toBe('READY=1\nSTATUS=from a worker');
      expect(msg.pid).toBe(process.pid);
      await worker.terminate();
    } finally {
      listener.close();
    }
  });
});
