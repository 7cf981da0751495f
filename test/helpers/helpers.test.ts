/**
 * The helpers' own checks: the python peer receives what the real libsystemd sends, so the
 * contract and parity suites stand on a peer and a reference that are not our code.
 */
import { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { PythonPeer, makeStaleSocket, uniqueSocketPath } from './peer';
import { libsystemdSend } from './libsystemd';
import { setEnv } from './env';
import { rawBinding } from './lib';
import { fileIdentity, liveOtherPid, openDevNull, openFds, openTempFiles, unusedPid } from './fds';

describe('test helpers', () => {
  const peers: PythonPeer[] = [];
  let sleeper: ChildProcess & { pid: number };
  const start = async (opts?: Parameters<typeof PythonPeer.start>[0]) => {
    const p = await PythonPeer.start(opts);
    peers.push(p);
    return p;
  };

  beforeAll(() => {
    sleeper = liveOtherPid();
  });
  afterAll(async () => {
    sleeper.kill();
    await Promise.all(peers.map((p) => p.close()));
  });

  it('a path peer receives libsystemd bytes with the sender pid, uid and gid', async () => {
    const peer = await start();
    expect(peer.notifySocket).toBe(peer.path);
    expect(fs.statSync(peer.path!).isSocket()).toBe(true);
    const [r] = await libsystemdSend([
      {
        notifySocket: peer.notifySocket,
        pid: 0,
        state: Buffer.from('READY=1\nSTATUS=héllo'),
        fds: [],
      },
    ]);
    expect(r.rc).toBe(1);
    const m = await peer.next();
    expect(m.text).toBe('READY=1\nSTATUS=héllo');
    expect(m.pid).toBe(r.senderPid);
    expect(m.uid).toBe(process.getuid!());
    expect(m.gid).toBe(process.getgid!());
    expect(m.fds).toEqual([]);
    expect(m.truncated).toBe(false);
  });

  it('an abstract peer receives at @name and leaves no file behind', async () => {
    const peer = await start({ abstract: true });
    expect(peer.notifySocket.startsWith('@')).toBe(true);
    expect(peer.path).toBeUndefined();
    const [r] = await libsystemdSend([
      { notifySocket: peer.notifySocket, pid: 'self', state: Buffer.from('X=1'), fds: [] },
    ]);
    expect(r.rc).toBe(1);
    expect((await peer.next()).text).toBe('X=1');
  });

  it('file descriptors arrive with the identity of the files that were sent', async () => {
    const peer = await start();
    const files = openTempFiles(3);
    const devNull = openDevNull();
    try {
      const fds = [...files.fds, devNull];
      const [r] = await libsystemdSend([
        { notifySocket: peer.notifySocket, pid: 0, state: Buffer.from('FDSTORE=1'), fds },
      ]);
      expect(r.rc).toBe(1);
      const m = await peer.next();
      expect(m.fds.map(({ dev, ino }) => ({ dev, ino }))).toEqual(fds.map(fileIdentity));
      expect(m.fds[3].mode & fs.constants.S_IFMT).toBe(fs.constants.S_IFCHR);
    } finally {
      files.close();
      fs.closeSync(devNull);
    }
  });

  it('libsystemd sends another live pid as credentials, and falls back to its own for a dead one', async () => {
    const peer = await start();
    const dead = unusedPid();
    const res = await libsystemdSend([
      { notifySocket: peer.notifySocket, pid: sleeper.pid, state: Buffer.from('A=1'), fds: [] },
      { notifySocket: peer.notifySocket, pid: dead, state: Buffer.from('A=2'), fds: [] },
    ]);
    expect(res.map((r) => r.rc)).toEqual([1, 1]);
    const [a, b] = await peer.take(2);
    expect(a.pid).toBe(sleeper.pid);
    expect(b.pid).toBe(res[1].senderPid);
  });

  it('libsystemd reports the errno of each failure, and unsets NOTIFY_SOCKET when asked', async () => {
    const stream = await start({ type: 'stream' });
    const stale = uniqueSocketPath();
    makeStaleSocket(stale);
    const dgram = await start();
    try {
      const res = await libsystemdSend([
        { notifySocket: uniqueSocketPath(), pid: 0, state: Buffer.from('A=1'), fds: [] },
        { notifySocket: stale, pid: 0, state: Buffer.from('A=1'), fds: [] },
        { notifySocket: stream.notifySocket, pid: 0, state: Buffer.from('A=1'), fds: [] },
        { notifySocket: null, pid: 0, state: Buffer.from('A=1'), fds: [] },
        {
          notifySocket: dgram.notifySocket,
          pid: 0,
          state: Buffer.from('A=1'),
          fds: [],
          unsetEnvironment: true,
        },
      ]);
      const { ENOENT, ECONNREFUSED, EPROTOTYPE } = os.constants.errno;
      expect(res.map((r) => r.rc)).toEqual([-ENOENT, -ECONNREFUSED, -EPROTOTYPE, 0, 1]);
      expect(res[4].envAfter).toBeNull();
      expect(res[0].envAfter).not.toBeNull();
    } finally {
      fs.rmSync(stale, { force: true });
    }
  });

  it('a paused peer holds messages until resume()', async () => {
    const peer = await start({ paused: true });
    await libsystemdSend([
      { notifySocket: peer.notifySocket, pid: 0, state: Buffer.from('P=1'), fds: [] },
    ]);
    await peer.expectNothing(150);
    peer.resume();
    expect((await peer.next()).text).toBe('P=1');
  });

  it('expectNothing rejects when a message arrives, and next() times out when none does', async () => {
    const peer = await start();
    await expect(peer.next(50)).rejects.toThrow(/no message arrived/);
    const p = peer.expectNothing(300);
    await libsystemdSend([
      { notifySocket: peer.notifySocket, pid: 0, state: Buffer.from('Q=1'), fds: [] },
    ]);
    await expect(p).rejects.toThrow(/expected nothing/);
  });

  it('waitForCount waits for a number of arrivals; drain forgets what was not taken', async () => {
    const peer = await start();
    const state = Buffer.from('W=1');
    await libsystemdSend(
      Array.from({ length: 5 }, () => ({
        notifySocket: peer.notifySocket,
        pid: 0,
        state,
        fds: [],
      })),
    );
    await peer.waitForCount(5);
    expect(peer.pending).toBe(0);
    await libsystemdSend([{ notifySocket: peer.notifySocket, pid: 0, state, fds: [] }]);
    await peer.waitForCount(6);
    await libsystemdSend([{ notifySocket: peer.notifySocket, pid: 0, state, fds: [] }]);
    await expect(peer.next()).resolves.toMatchObject({ text: 'W=1' });
    expect(peer.drain()).toBe(0);
    await expect(peer.waitForCount(100, 100)).rejects.toThrow(/only 7 of 100/);
  });

  it('close() ends the python process and removes its socket file', async () => {
    const peer = await start();
    const p = peer.path!;
    await peer.close();
    expect(fs.existsSync(p)).toBe(false);
    expect(() => process.kill(peer.pid, 0)).toThrow();
  });

  it("setEnv reaches the C environment libsystemd reads; jest's process.env alone does not", () => {
    const native = rawBinding();
    process.env.SDN_HELPER_PROBE = 'sandbox only';
    expect(native.getenv('SDN_HELPER_PROBE')).toBeUndefined();
    setEnv('SDN_HELPER_PROBE', 'both');
    expect(native.getenv('SDN_HELPER_PROBE')).toBe('both');
    expect(process.env.SDN_HELPER_PROBE).toBe('both');
    setEnv('SDN_HELPER_PROBE', undefined);
    expect(native.getenv('SDN_HELPER_PROBE')).toBeUndefined();
  });

  it('openFds counts a newly opened fd', () => {
    const before = openFds();
    const fd = openDevNull();
    expect(openFds()).toBe(before + 1);
    fs.closeSync(fd);
    expect(openFds()).toBe(before);
  });
});
