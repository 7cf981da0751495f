/**
 * No descriptor leaks, on either backend: after 10,000 sends that carry fds and 10,000 sends
 * that fail (each failure kind, with and without fds), this process has exactly the fds it had,
 * and the fds it passed in are still open and still the same files.
 */
import * as fs from 'node:fs';

import { setNotifySocket } from '../helpers/env';
import {
  closerOf,
  fileIdentity,
  liveOtherPid,
  openDevNull,
  openFds,
  openTempFiles,
  unusedPid,
} from '../helpers/fds';
import { BACKENDS, countRoutes, loadLib, type Lib } from '../helpers/lib';
import { PythonPeer, makeStaleSocket, uniqueSocketPath } from '../helpers/peer';

const SENDS = 10_000;
const FAILURES = 10_000;
/** Messages in flight before waiting for the peer (the kernel queues about 10 per receiver). */
const WINDOW = 8;

describe.each(BACKENDS)('no fd leaks on the %s backend', (backend) => {
  let lib: Lib;
  let peer: PythonPeer;
  let paused: PythonPeer;
  let stream: PythonPeer;
  let sleeper: ReturnType<typeof liveOtherPid>;
  let files: ReturnType<typeof openTempFiles>;
  let devNull: number;
  let closeDevNull: () => void;
  let stale: string;
  let fds: number[];

  beforeAll(async () => {
    lib = loadLib(backend);
    [peer, paused, stream] = await Promise.all([
      PythonPeer.start(),
      PythonPeer.start({ paused: true }),
      PythonPeer.start({ type: 'stream' }),
    ]);
    sleeper = liveOtherPid();
    files = openTempFiles(2);
    devNull = openDevNull();
    closeDevNull = closerOf(devNull);
    fds = [files.fds[0], devNull, files.fds[1]];
    stale = uniqueSocketPath();
    makeStaleSocket(stale);
    // Fill the paused peer's queue, so every later send to it is EAGAIN.
    setNotifySocket(paused.notifySocket);
    while (lib.sd_notify(0, 'X_FILL=1') > 0);
    // Warm up: the addon and libsystemd are loaded before counting.
    setNotifySocket(peer.notifySocket);
    expect(lib.sd_pid_notify_with_fds(0, 0, 'FDSTORE=1', fds)).toBeGreaterThan(0);
    await peer.waitForCount(1);
  });

  afterAll(async () => {
    setNotifySocket(undefined);
    sleeper?.kill();
    files?.close();
    closeDevNull?.();
    fs.rmSync(stale, { force: true });
    await Promise.all([peer, paused, stream].filter(Boolean).map((p) => p.close()));
  });

  it(`${SENDS} sends with fds (own, other and nonexistent pids) leave the fd count unchanged`, async () => {
    const ids = fds.map(fileIdentity);
    const deadPid = unusedPid();
    const pids = [0, sleeper.pid, deadPid, process.pid];
    setNotifySocket(peer.notifySocket);
    const base = peer.receivedCount;
    const routes = countRoutes();
    const before = openFds();
    for (let i = 0; i < SENDS; i++) {
      const pid = pids[i % pids.length];
      if (i % 2 === 0) {
        expect(lib.sd_pid_notify_with_fds(pid, 0, 'FDSTORE=1\nFDNAME=leak', fds)).toBeGreaterThan(
          0,
        );
      } else {
        expect(lib.notify({ fdStore: true, fdName: 'leak' }, { fds, pid })).toBe(true);
      }
      if ((i + 1) % WINDOW === 0) await peer.waitForCount(base + i + 1);
    }
    await peer.waitForCount(base + SENDS);
    routes.restore();
    expect(openFds()).toBe(before);
    // Each send took the backend's own path (libsystemd's, or ours; ours twice for a dead pid).
    if (backend === 'libsystemd') expect(routes).toMatchObject({ libsystemd: SENDS, builtin: 0 });
    else expect(routes).toMatchObject({ libsystemd: 0, builtin: SENDS + SENDS / 4 });
    expect(fds.map(fileIdentity)).toEqual(ids);
  });

  it(`${FAILURES} failing sends (ENOENT, ECONNREFUSED, EPROTOTYPE, EAGAIN) leave the fd count unchanged`, () => {
    const targets = [uniqueSocketPath(), stale, stream.notifySocket, paused.notifySocket];
    const seen = new Map<string, number>();
    const before = openFds();
    for (let i = 0; i < FAILURES; i++) {
      // i % 2 picks the layer, (i / 2) % 4 the failure, (i / 8) % 2 whether fds go along.
      setNotifySocket(targets[Math.floor(i / 2) % targets.length]);
      const withFds = Math.floor(i / 8) % 2 === 0 ? fds : [];
      if (i % 2 === 0) {
        const rc = lib.sd_pid_notify_with_fds(
          i % 3 === 0 ? sleeper.pid : 0,
          0,
          'FDSTORE=1',
          withFds,
        );
        expect(rc).toBeLessThan(0);
      } else {
        try {
          lib.notify(withFds.length > 0 ? { fdStore: true } : { ready: true }, { fds: withFds });
          throw new Error('notify() should have failed');
        } catch (e) {
          const code = (e as { code?: string }).code ?? String(e);
          seen.set(code, (seen.get(code) ?? 0) + 1);
        }
      }
    }
    expect(openFds()).toBe(before);
    expect([...seen.keys()].sort()).toEqual(['EAGAIN', 'ECONNREFUSED', 'ENOENT', 'EPROTOTYPE']);
    expect(fs.fstatSync(devNull).isCharacterDevice()).toBe(true);
  });

  it(`${SENDS} barriers and ${SENDS} storeFd calls, processed or failing, leave the fd count unchanged`, async () => {
    setNotifySocket(peer.notifySocket);
    await lib.barrier(); // warm up the barrier's own path (net.Socket on a pipe)
    await new Promise((r) => setTimeout(r, 20));
    const before = openFds();
    const failing = [uniqueSocketPath(), stale, stream.notifySocket, paused.notifySocket];
    const codes = new Map<string, number>();
    for (let i = 0; i < SENDS; i++) {
      setNotifySocket(peer.notifySocket);
      expect(await lib.barrier({ timeout: 5000 })).toBe(true); // the peer closes the fd it gets
      expect(lib.storeFd(fds[i % fds.length], { name: 'leak' })).toBe(true);
      setNotifySocket(failing[i % failing.length]);
      const rc = await lib.sd_notify_barrier(0, 1_000_000);
      codes.set(String(rc), (codes.get(String(rc)) ?? 0) + 1);
      try {
        lib.storeFd(fds[0], { name: 'leak' });
      } catch {
        // every kind of failure, counted by the barrier above
      }
    }
    await new Promise((r) => setTimeout(r, 50)); // net.Socket closes its fd on the next tick
    expect(openFds()).toBe(before);
    // ENOENT, ECONNREFUSED, EPROTOTYPE, EAGAIN: no barrier to a broken peer resolved.
    expect([...codes.keys()].sort()).toEqual(['-11', '-111', '-2', '-91']);
  });
});
