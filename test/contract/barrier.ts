/**
 * The barrier's contract (DESIGN §3), on each backend, against a real peer that is not our code
 * (python3, test/helpers/peer.py: it fstat()s and closes every fd it receives, which is how a
 * manager acknowledges BARRIER=1; a paused peer reads nothing, so a barrier sent to it stays
 * pending). What goes on the wire, what the promise says, how long it takes, and what it costs the
 * process: no pool thread held, no fd inherited by children, no fd leaked.
 *
 * One body, run once per backend by barrier-builtin.test.ts and barrier-libsystemd.test.ts.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

import { setNotifySocket } from '../helpers/env';
import { canSendForOtherPid, liveOtherPid, openFds, unusedPid } from '../helpers/fds';
import { countRoutes, loadLib, type ForcedBackend, type Lib } from '../helpers/lib';
import { PythonPeer, uniqueSocketPath, type ReceivedMessage } from '../helpers/peer';
import { brokenAddresses } from '../helpers/broken-addresses';

const E = os.constants.errno;
/** A failing barrier must settle at once: it has nothing to wait for. */
const PROMPT_MS = 100;
const U64_MAX = 2n ** 64n - 1n;
const O_CLOEXEC = 0o2000000;
/** Barriers pending on one paused peer: the kernel queues 10 datagrams (net.unix.max_dgram_qlen) per receiver. */
const PER_PAUSED_PEER = 8;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Awaits `p`, measuring how long it took to settle; never rejects. */
async function settled<T>(
  p: Promise<T>,
  t0 = performance.now(),
): Promise<{ value?: T; error?: unknown; ms: number }> {
  try {
    const value = await p;
    return { value, ms: performance.now() - t0 };
  } catch (error) {
    return { error, ms: performance.now() - t0 };
  }
}

/** Our fds and what each is ("pipe:[123]", a path, "socket:[…]"); the listing's own fd is gone by readlink time. */
function fdTable(): Map<number, string> {
  const table = new Map<number, string>();
  for (const name of fs.readdirSync('/proc/self/fd')) {
    try {
      table.set(Number(name), fs.readlinkSync(`/proc/self/fd/${name}`));
    } catch {
      /* the directory fd readdirSync used, closed since */
    }
  }
  return table;
}

/** Fds in `after` that are new or now name something else. */
function addedFds(before: Map<number, string>, after: Map<number, string>): number[] {
  return [...after].filter(([fd, what]) => before.get(fd) !== what).map(([fd]) => fd);
}

/** The `flags:` of /proc/self/fdinfo/N (octal, as open(2) flags). */
function fdFlags(fd: number): number {
  const m = /^flags:\s*([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  if (!m) throw new Error(`no flags: line in /proc/self/fdinfo/${fd}`);
  return parseInt(m[1], 8);
}

const pipeInode = (link: string | undefined): number | undefined => {
  const m = /^pipe:\[(\d+)\]$/.exec(link ?? '');
  return m ? Number(m[1]) : undefined;
};

/** Checks a received message is a barrier: exactly `BARRIER=1`, one FIFO fd, nothing cut. */
function expectBarrierMessage(m: ReceivedMessage): void {
  expect(m.data.equals(Buffer.from('BARRIER=1'))).toBe(true);
  expect(m.truncated).toBe(false);
  expect(m.ctruncated).toBe(false);
  expect(m.fds).toHaveLength(1);
  expect(m.fds[0].mode & fs.constants.S_IFMT).toBe(fs.constants.S_IFIFO);
}

export function barrierSuite(backend: ForcedBackend): void {
  let lib: Lib;
  let peer: PythonPeer;
  let abstractPeer: PythonPeer;
  let sleeper: ReturnType<typeof liveOtherPid>;
  const extraPeers: PythonPeer[] = [];
  const cleanups: Array<() => void> = [];
  const forgesPid = canSendForOtherPid();

  const startPeer = async (opts?: Parameters<typeof PythonPeer.start>[0]) => {
    const p = await PythonPeer.start(opts);
    extraPeers.push(p);
    return p;
  };
  const pausedPeers = (n: number) =>
    Promise.all(Array.from({ length: n }, () => startPeer({ paused: true })));

  beforeAll(async () => {
    lib = loadLib(backend);
    [peer, abstractPeer] = await Promise.all([
      PythonPeer.start(),
      PythonPeer.start({ abstract: true }),
    ]);
    sleeper = liveOtherPid();
    // Warm up: the first barrier loads the addon (and libsystemd); timings below measure barriers only.
    setNotifySocket(peer.notifySocket);
    expect(await lib.barrier({ timeout: 5000 })).toBe(true);
    await peer.next();
    setNotifySocket(undefined);
  });

  afterEach(() => {
    setNotifySocket(undefined);
    peer.drain();
    abstractPeer.drain();
  });

  afterAll(async () => {
    sleeper?.kill();
    for (const c of cleanups) {
      try {
        c();
      } catch {
        /* keep tearing down */
      }
    }
    await Promise.all([peer, abstractPeer, ...extraPeers].filter(Boolean).map((p) => p.close()));
  });

  it(`runs on the ${backend} backend, as SDNOTIFY_BACKEND asked`, () => {
    expect(lib.backendInfo().name).toBe(backend);
  });

  describe('a live manager', () => {
    it.each(['path', 'abstract'] as const)(
      'barrier() resolves true once the peer has closed the fd (%s socket)',
      async (kind) => {
        const p = kind === 'path' ? peer : abstractPeer;
        setNotifySocket(p.notifySocket);
        expect(await lib.barrier({ timeout: 2000 })).toBe(true);
        expectBarrierMessage(await p.next());
      },
    );

    it('the datagram is exactly BARRIER=1 with one FIFO fd and this process’s credentials', async () => {
      setNotifySocket(peer.notifySocket);
      expect(await lib.barrier()).toBe(true);
      const m = await peer.next();
      expectBarrierMessage(m);
      expect(m.text).toBe('BARRIER=1');
      expect(m).toMatchObject({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
      await peer.expectNothing(50);
    });

    it('the fd that arrives is the write end of the very pipe whose read end the barrier waits on', async () => {
      const paused = await startPeer({ paused: true });
      setNotifySocket(paused.notifySocket);
      const before = fdTable();
      const pending = lib.barrier({ timeout: 5000 });
      const during = fdTable();
      const inodes = addedFds(before, during).map((fd) => pipeInode(during.get(fd)));
      // One fd is ours while we wait: the read end. The write end was closed right after sending.
      expect(inodes).toHaveLength(1);
      expect(inodes[0]).toEqual(expect.any(Number));
      paused.resume();
      const m = await paused.next();
      expectBarrierMessage(m);
      expect(m.fds[0].ino).toBe(inodes[0]);
      expect(await pending).toBe(true);
    });

    it('sd_notify_barrier resolves 1 for a number, a bigint and UINT64_MAX (infinite) timeout', async () => {
      setNotifySocket(peer.notifySocket);
      expect(await lib.sd_notify_barrier(0, 2_000_000)).toBe(1);
      expect(await lib.sd_notify_barrier(false, 2_000_000n)).toBe(1);
      expect(await lib.sd_notify_barrier(0, U64_MAX)).toBe(1);
      const ms = await peer.take(3);
      ms.forEach(expectBarrierMessage);
      expect(ms.map((m) => m.pid)).toEqual([process.pid, process.pid, process.pid]);
    });

    it('barrier({ timeout: Infinity }) resolves true', async () => {
      setNotifySocket(peer.notifySocket);
      expect(await lib.barrier({ timeout: Infinity })).toBe(true);
      expectBarrierMessage(await peer.next());
    });

    it('a barrier sent after other messages arrives after them', async () => {
      setNotifySocket(peer.notifySocket);
      expect(lib.notify({ status: 'before the barrier' })).toBe(true);
      expect(await lib.barrier()).toBe(true);
      const [first, second] = await peer.take(2);
      expect(first.text).toBe('STATUS=before the barrier');
      expectBarrierMessage(second);
    });

    it(`sent through the ${backend} path of the addon`, async () => {
      setNotifySocket(peer.notifySocket);
      const routes = countRoutes();
      try {
        expect(await lib.barrier()).toBe(true);
        expect(await lib.sd_notify_barrier(0, 2_000_000)).toBe(1);
      } finally {
        routes.restore();
      }
      await peer.take(2);
      if (backend === 'libsystemd') expect(routes).toMatchObject({ libsystemd: 2, builtin: 0 });
      else expect(routes).toMatchObject({ libsystemd: 0, builtin: 2 });
    });
  });

  describe('credentials', () => {
    beforeEach(() => setNotifySocket(peer.notifySocket));

    it('pid 0 and our own pid both mean this process', async () => {
      expect(await lib.barrier({ pid: 0 })).toBe(true);
      expect(await lib.barrier({ pid: process.pid })).toBe(true);
      expect(await lib.sd_pid_notify_barrier(0, 0, 2_000_000)).toBe(1);
      expect(await lib.sd_pid_notify_barrier(process.pid, 0, 2_000_000)).toBe(1);
      const ms = await peer.take(4);
      ms.forEach(expectBarrierMessage);
      expect(ms.map((m) => m.pid)).toEqual(new Array(4).fill(process.pid));
    });

    it(`another live pid arrives as the sender ${forgesPid ? '(we hold CAP_SYS_ADMIN)' : '(no CAP_SYS_ADMIN: our own pid)'}`, async () => {
      const expected = forgesPid ? sleeper.pid : process.pid;
      expect(await lib.barrier({ pid: sleeper.pid })).toBe(true);
      expect(await lib.sd_pid_notify_barrier(sleeper.pid, 0, 2_000_000)).toBe(1);
      const [a, b] = await peer.take(2);
      expectBarrierMessage(a);
      expectBarrierMessage(b);
      expect([a.pid, b.pid]).toEqual([expected, expected]);
      expect(a.uid).toBe(process.getuid!());
    });

    it('a pid that does not exist is refused by the kernel, and the barrier is resent with our own', async () => {
      const dead = unusedPid();
      expect(await lib.barrier({ pid: dead })).toBe(true);
      expect(await lib.sd_pid_notify_barrier(dead, 0, 2_000_000)).toBe(1);
      const ms = await peer.take(2);
      ms.forEach(expectBarrierMessage);
      expect(ms.map((m) => m.pid)).toEqual([process.pid, process.pid]);
      await peer.expectNothing(50);
    });
  });

  describe('not supervised', () => {
    it('without NOTIFY_SOCKET, barrier() is false and sd_notify_barrier() 0, at once, opening no fd', async () => {
      setNotifySocket(undefined);
      const before = openFds();
      const t0 = performance.now();
      const a = lib.barrier();
      const b = lib.sd_notify_barrier(0, 2_000_000);
      const c = lib.sd_pid_notify_barrier(sleeper.pid, 1, U64_MAX);
      expect(openFds()).toBe(before);
      expect(await a).toBe(false);
      expect(await b).toBe(0);
      expect(await c).toBe(0);
      expect(performance.now() - t0).toBeLessThan(PROMPT_MS);
      expect(openFds()).toBe(before);
      await peer.expectNothing(50);
    });
  });

  describe('the socket option', () => {
    it('barrier({ socket }) goes there instead of NOTIFY_SOCKET', async () => {
      setNotifySocket(peer.notifySocket);
      expect(await lib.barrier({ socket: abstractPeer.notifySocket })).toBe(true);
      expectBarrierMessage(await abstractPeer.next());
      await peer.expectNothing(50);
    });

    it('barrier({ socket }) works with NOTIFY_SOCKET unset', async () => {
      setNotifySocket(undefined);
      expect(await lib.barrier({ socket: peer.notifySocket })).toBe(true);
      expectBarrierMessage(await peer.next());
    });
  });

  describe('transport failures', () => {
    const failures = brokenAddresses({ cleanups, startPeer });

    it.each(failures)(
      '%s: barrier() rejects with SdNotifyError %s at once, leaving no fd behind',
      async (_what, code, setup) => {
        setNotifySocket(await setup());
        const before = openFds();
        const r = await settled(lib.barrier({ timeout: 5000 }));
        expect(r.ms).toBeLessThan(PROMPT_MS);
        expect(r.error).toBeInstanceOf(lib.SdNotifyError);
        expect(r.error).toMatchObject({ code, errno: -E[code as keyof typeof E] });
        expect((r.error as { hint: string }).hint).toMatch(/\S{3}/);
        expect(openFds()).toBe(before);
      },
    );

    it.each(failures)(
      '%s: sd_notify_barrier() resolves -%s at once, never rejects',
      async (_what, code, setup) => {
        setNotifySocket(await setup());
        const before = openFds();
        const r = await settled(lib.sd_notify_barrier(0, 5_000_000));
        expect(r.error).toBeUndefined();
        expect(r.value).toBe(-E[code as keyof typeof E]);
        expect(r.ms).toBeLessThan(PROMPT_MS);
        const p = await settled(lib.sd_pid_notify_barrier(sleeper.pid, 0, U64_MAX));
        expect(p.value).toBe(-E[code as keyof typeof E]);
        expect(p.ms).toBeLessThan(PROMPT_MS);
        expect(openFds()).toBe(before);
      },
    );

    it('a NOTIFY_SOCKET that is not an address: sd_notify_barrier() resolves -EINVAL, barrier() rejects', async () => {
      setNotifySocket('relative/path.sock');
      expect(await lib.sd_notify_barrier(0, 1_000_000)).toBe(-E.EINVAL);
      await expect(lib.barrier()).rejects.toBeInstanceOf(lib.SdNotifyError);
    });

    it('a peer whose queue is full: barrier() rejects with EAGAIN and sd_notify_barrier() resolves -EAGAIN, at once, leaving no fd', async () => {
      const full = await startPeer({ paused: true });
      setNotifySocket(full.notifySocket);
      while (lib.sd_notify(0, 'X_FILL=1') > 0);
      const before = openFds();
      const r = await settled(lib.barrier({ timeout: 5000 }));
      expect(r.error).toMatchObject({ code: 'EAGAIN', errno: -E.EAGAIN });
      expect(r.ms).toBeLessThan(PROMPT_MS);
      const d = await settled(lib.sd_notify_barrier(0, 5_000_000));
      expect(d.value).toBe(-E.EAGAIN);
      expect(d.ms).toBeLessThan(PROMPT_MS);
      expect(openFds()).toBe(before);
    });
  });

  describe('timeouts', () => {
    it('against a peer that does not read, barrier({ timeout: 200 }) rejects with ETIMEDOUT at 200 ms (±50)', async () => {
      const paused = await startPeer({ paused: true });
      setNotifySocket(paused.notifySocket);
      const r = await settled(lib.barrier({ timeout: 200 }));
      expect(r.error).toBeInstanceOf(lib.SdNotifyError);
      expect(r.error).toMatchObject({ code: 'ETIMEDOUT', errno: -E.ETIMEDOUT });
      expect((r.error as { hint: string }).hint).toMatch(/\S{3}/);
      expect(r.ms).toBeGreaterThanOrEqual(150);
      expect(r.ms).toBeLessThanOrEqual(250);
      console.log(`barrier (${backend}): timeout 200 ms settled after ${r.ms.toFixed(1)} ms`);
    });

    it('sd_notify_barrier(0, 200000) resolves -ETIMEDOUT (-110) at 200 ms (±50)', async () => {
      const paused = await startPeer({ paused: true });
      setNotifySocket(paused.notifySocket);
      const r = await settled(lib.sd_notify_barrier(0, 200_000));
      expect(r.error).toBeUndefined();
      expect(r.value).toBe(-E.ETIMEDOUT);
      expect(r.value).toBe(-110);
      expect(r.ms).toBeGreaterThanOrEqual(150);
      expect(r.ms).toBeLessThanOrEqual(250);
      const b = await settled(lib.sd_pid_notify_barrier(0, 0, 200_000n));
      expect(b.value).toBe(-110);
      expect(b.ms).toBeGreaterThanOrEqual(150);
      expect(b.ms).toBeLessThanOrEqual(250);
    });

    it('a barrier still pending resolves true when a slow peer gets to it before the timeout', async () => {
      const paused = await startPeer({ paused: true });
      setNotifySocket(paused.notifySocket);
      const pending = settled(lib.barrier({ timeout: 3000 }));
      await sleep(150);
      paused.resume();
      const r = await pending;
      expect(r.value).toBe(true);
      expect(r.ms).toBeGreaterThanOrEqual(140);
      expect(r.ms).toBeLessThan(1000);
      expectBarrierMessage(await paused.next());
    });
  });

  describe('a peer that goes away', () => {
    it('a peer that exits with the barrier unread releases its fd: the barrier resolves true, as libsystemd’s poll() sees POLLHUP', async () => {
      const doomed = await startPeer({ paused: true });
      setNotifySocket(doomed.notifySocket);
      const pending = settled(lib.barrier({ timeout: 3000 }));
      await sleep(50);
      await doomed.close();
      const r = await pending;
      expect(r.value).toBe(true);
      expect(r.ms).toBeLessThan(1000);
    });
  });

  describe('AbortSignal', () => {
    it('aborting a pending barrier rejects it promptly with the signal’s reason (an AbortError)', async () => {
      const paused = await startPeer({ paused: true });
      setNotifySocket(paused.notifySocket);
      const ac = new AbortController();
      const before = openFds();
      const t0 = performance.now();
      const pending = settled(lib.barrier({ timeout: 5000, signal: ac.signal }), t0);
      setTimeout(() => ac.abort(), 50);
      const r = await pending;
      expect(r.error).toBe(ac.signal.reason);
      expect((r.error as Error).name).toBe('AbortError');
      expect(r.ms).toBeGreaterThanOrEqual(45);
      expect(r.ms).toBeLessThan(50 + PROMPT_MS);
      // The read end was closed: nothing of the barrier stays with us.
      expect(openFds()).toBe(before);
    });

    it('an abort reason of our own is what the promise rejects with', async () => {
      const paused = await startPeer({ paused: true });
      setNotifySocket(paused.notifySocket);
      const ac = new AbortController();
      const reason = new Error('shutting down');
      const pending = lib.barrier({ signal: ac.signal });
      ac.abort(reason);
      await expect(pending).rejects.toBe(reason);
    });

    it('an already aborted signal rejects at once and sends nothing', async () => {
      setNotifySocket(peer.notifySocket);
      const signal = AbortSignal.abort();
      const before = openFds();
      const r = await settled(lib.barrier({ signal }));
      expect(r.error).toBe(signal.reason);
      expect((r.error as Error).name).toBe('AbortError');
      expect(r.ms).toBeLessThan(PROMPT_MS);
      expect(openFds()).toBe(before);
      await peer.expectNothing(50);
    });

    it('a signal aborted after the barrier resolved changes nothing', async () => {
      setNotifySocket(peer.notifySocket);
      const ac = new AbortController();
      expect(await lib.barrier({ signal: ac.signal })).toBe(true);
      ac.abort();
      expectBarrierMessage(await peer.next());
    });
  });

  describe('unsetEnvironment', () => {
    it('barrier({ unsetEnvironment: true }) resolves true, removes NOTIFY_SOCKET, and the next barrier is false', async () => {
      setNotifySocket(peer.notifySocket);
      expect(await lib.barrier({ unsetEnvironment: true })).toBe(true);
      expect(process.env.NOTIFY_SOCKET).toBeUndefined();
      expectBarrierMessage(await peer.next());
      expect(await lib.barrier()).toBe(false);
      await peer.expectNothing(50);
    });

    it('sd_notify_barrier(1, …) resolves 1, removes NOTIFY_SOCKET, and the next call resolves 0', async () => {
      setNotifySocket(peer.notifySocket);
      expect(await lib.sd_notify_barrier(1, 2_000_000)).toBe(1);
      expect(process.env.NOTIFY_SOCKET).toBeUndefined();
      expectBarrierMessage(await peer.next());
      expect(await lib.sd_notify_barrier(0, 2_000_000)).toBe(0);
      await peer.expectNothing(50);
    });

    it('NOTIFY_SOCKET is removed even when the barrier fails, as libsystemd does', async () => {
      setNotifySocket(uniqueSocketPath());
      expect(await lib.sd_notify_barrier(true, 1_000_000)).toBe(-E.ENOENT);
      expect(process.env.NOTIFY_SOCKET).toBeUndefined();
      setNotifySocket(uniqueSocketPath());
      await expect(lib.barrier({ unsetEnvironment: true })).rejects.toMatchObject({
        code: 'ENOENT',
      });
      expect(process.env.NOTIFY_SOCKET).toBeUndefined();
    });
  });

  describe('bad arguments', () => {
    /** A TypeError/RangeError, thrown or as a rejection, and nothing sent. */
    const refused = async (call: () => unknown, type: typeof TypeError | typeof RangeError) => {
      await expect(Promise.resolve().then(call)).rejects.toBeInstanceOf(type);
    };

    it('barrier() refuses bad options with TypeError or RangeError before sending anything', async () => {
      setNotifySocket(peer.notifySocket);
      const b = lib.barrier as (o?: unknown) => Promise<boolean>;
      await refused(() => b(null), TypeError);
      await refused(() => b(5000), TypeError);
      await refused(() => b({ timeout: '5000' }), TypeError);
      await refused(() => b({ timeout: 5000n }), TypeError);
      await refused(() => b({ timeout: -1 }), RangeError);
      await refused(() => b({ timeout: NaN }), RangeError);
      await refused(() => b({ signal: {} }), TypeError);
      await refused(() => b({ pid: '1' }), TypeError);
      await refused(() => b({ pid: -1 }), RangeError);
      await refused(() => b({ pid: 1.5 }), RangeError);
      await refused(() => b({ socket: 42 }), TypeError);
      await refused(() => b({ socket: 'relative/path' }), RangeError);
      await refused(() => b({ unsetEnvironment: 1 }), TypeError);
      await refused(() => b({ timeuot: 5000 }), TypeError);
      await peer.expectNothing(50);
      expect(process.env.NOTIFY_SOCKET).toBe(peer.notifySocket);
    });

    it('sd_notify_barrier() and sd_pid_notify_barrier() refuse wrong argument types with TypeError, sending nothing', async () => {
      setNotifySocket(peer.notifySocket);
      const n = lib.sd_notify_barrier as (...a: unknown[]) => Promise<number>;
      const p = lib.sd_pid_notify_barrier as (...a: unknown[]) => Promise<number>;
      await refused(() => n('yes', 1000), TypeError);
      await refused(() => n(0, '1000'), TypeError);
      await refused(() => n(0, -1), TypeError);
      await refused(() => n(0, 1.5), TypeError);
      await refused(() => n(0, -1n), TypeError);
      await refused(() => n(0, 2n ** 64n), TypeError);
      await refused(() => n(0), TypeError);
      await refused(() => p('1', 0, 1000), TypeError);
      await refused(() => p(0, {}, 1000), TypeError);
      await peer.expectNothing(50);
    });
  });

  describe('the event loop and the libuv pool', () => {
    const poolSize = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    const n = Math.max(8, poolSize + 4);
    let small: string;
    let fifoDir: string;

    beforeAll(() => {
      fifoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdn-barrier-'));
      small = path.join(fifoDir, 'small.txt');
      fs.writeFileSync(small, 'small');
      cleanups.push(() => fs.rmSync(fifoDir, { recursive: true, force: true }));
    });

    /** How long readFile of a small file takes, and how many 1 ms interval ticks fit in 200 ms. */
    const measure = async () => {
      const t0 = performance.now();
      await fs.promises.readFile(small);
      const readMs = performance.now() - t0;
      let ticks = 0;
      const iv = setInterval(() => (ticks += 1), 1);
      await sleep(200);
      clearInterval(iv);
      return { readMs, ticks };
    };

    it(`control: ${n} jobs that each hold a pool thread (a FIFO open) do stall readFile, so the next test can see a held pool`, async () => {
      const fifos = Array.from({ length: n }, (_, i) => path.join(fifoDir, `fifo${i}`));
      for (const f of fifos) expect(spawnSync('mkfifo', [f]).status).toBe(0);
      // open(O_RDONLY) of a FIFO blocks its pool thread until a writer comes.
      const blocked = fifos.map((f) => fs.promises.open(f, 'r'));
      const read = settled(fs.promises.readFile(small));
      const stalled = await Promise.race([read.then(() => false), sleep(150).then(() => true)]);
      // Release them: O_RDWR on a FIFO never blocks and counts as a writer.
      const writers = fifos.map((f) => fs.openSync(f, fs.constants.O_RDWR));
      for (const h of await Promise.all(blocked)) await h.close();
      for (const w of writers) fs.closeSync(w);
      expect((await read).error).toBeUndefined();
      expect(stalled).toBe(true);
    });

    it(`with ${n} barriers pending (more than the ${poolSize} pool threads), readFile takes < 50 ms and a 1 ms interval ticks > 100 times in 200 ms`, async () => {
      const peers = await pausedPeers(Math.ceil(n / PER_PAUSED_PEER));
      let settledCount = 0;
      const pending = Array.from({ length: n }, (_, i) => {
        setNotifySocket(peers[Math.floor(i / PER_PAUSED_PEER)].notifySocket);
        const p: Promise<unknown> =
          i % 2 === 0 ? lib.barrier({ timeout: 2000 }) : lib.sd_notify_barrier(0, 2_000_000);
        return p.finally(() => (settledCount += 1));
      });
      const { readMs, ticks } = await measure();
      console.log(
        `barrier (${backend}): ${n} pending, readFile ${readMs.toFixed(2)} ms, ${ticks} ticks of a 1 ms interval in 200 ms`,
      );
      expect(settledCount).toBe(0);
      expect(readMs).toBeLessThan(50);
      expect(ticks).toBeGreaterThan(100);
      // They were all waiting, not failed: the peers read now and every barrier resolves as processed.
      for (const p of peers) p.resume();
      expect(await Promise.all(pending)).toEqual(
        Array.from({ length: n }, (_, i) => (i % 2 === 0 ? true : 1)),
      );
    });
  });

  describe('worker threads', () => {
    it('barrier() and sd_notify_barrier() in a worker thread resolve as on the main thread, with no process warning', async () => {
      const entry = path.resolve(__dirname, '..', '..', 'dist', 'index.js');
      setNotifySocket(peer.notifySocket);
      const code = `
        const { parentPort, workerData } = require('node:worker_threads');
        const warnings = [];
        process.on('warning', (w) => warnings.push(w.message));
        const sd = require(workerData.entry);
        (async () => {
          const results = [];
          for (let i = 0; i < 3; i++) results.push(await sd.barrier({ timeout: 2000 }));
          results.push(await sd.sd_notify_barrier(0, 2000000));
          results.push(await sd.barrier({ socket: workerData.missing }).catch((e) => e.code));
          await new Promise((r) => setTimeout(r, 20)); // warnings are emitted on a later tick
          parentPort.postMessage({ backend: sd.backendInfo().name, results, warnings });
        })().catch((e) => parentPort.postMessage({ error: String(e && e.stack) }));
      `;
      const worker = new Worker(code, {
        eval: true,
        workerData: { entry, missing: uniqueSocketPath() },
        env: { ...process.env, SDNOTIFY_BACKEND: backend, NOTIFY_SOCKET: peer.notifySocket },
      });
      try {
        const got = await new Promise<unknown>((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        });
        expect(got).toEqual({
          backend,
          results: [true, true, true, 1, 'ENOENT'],
          warnings: [],
        });
      } finally {
        await worker.terminate();
      }
      (await peer.take(4)).forEach(expectBarrierMessage);
    });
  });

  describe('close-on-exec', () => {
    it('every fd a pending barrier holds has FD_CLOEXEC, and a child spawned meanwhile does not inherit the pipe', async () => {
      const paused = await startPeer({ paused: true });
      setNotifySocket(paused.notifySocket);
      const before = fdTable();
      const pending = [lib.barrier({ timeout: 5000 }), lib.sd_notify_barrier(0, 5_000_000)];
      const now = fdTable();
      const added = addedFds(before, now);
      expect(added).toHaveLength(2);
      const flags = added.map((fd) => ({
        fd,
        what: now.get(fd),
        cloexec: (fdFlags(fd) & O_CLOEXEC) !== 0,
      }));
      expect(flags).toEqual(
        added.map((fd) => ({ fd, what: expect.stringMatching(/^pipe:\[\d+\]$/), cloexec: true })),
      );
      const child = spawnSync('sh', ['-c', 'ls -l /proc/$$/fd'], { encoding: 'utf8' });
      expect(child.status).toBe(0);
      for (const fd of added) expect(child.stdout).not.toContain(now.get(fd)!);
      paused.resume();
      expect(await Promise.all(pending)).toEqual([true, 1]);
    });
  });

  describe('no fd leak', () => {
    const RESOLVED = 2000;
    const TIMED_OUT = 200;
    const ABORTED = 200;
    const WINDOW = 8;

    it(`${RESOLVED} resolved, ${TIMED_OUT} timed-out and ${ABORTED} aborted barriers leave the fd count where it was`, async () => {
      const timeoutPeers = await pausedPeers(TIMED_OUT / WINDOW);
      const base = peer.receivedCount;
      setNotifySocket(peer.notifySocket);
      const before = openFds();
      const t0 = performance.now();

      // Resolved: WINDOW at a time against the live peer, both layers.
      for (let i = 0; i < RESOLVED; i += WINDOW) {
        const batch = Array.from({ length: WINDOW }, (_, j) =>
          (i + j) % 2 === 0 ? lib.barrier({ timeout: 5000 }) : lib.sd_notify_barrier(0, 5_000_000),
        );
        expect(await Promise.all(batch)).toEqual(
          Array.from({ length: WINDOW }, (_, j) => ((i + j) % 2 === 0 ? true : 1)),
        );
      }
      const tResolved = performance.now() - t0;

      // Timed out: 1 ms against paused peers (each queues one window), both layers.
      for (const [k, p] of timeoutPeers.entries()) {
        setNotifySocket(p.notifySocket);
        const batch = Array.from({ length: WINDOW }, (_, j) =>
          (k * WINDOW + j) % 2 === 0
            ? lib.barrier({ timeout: 1 }).then(
                () => 'resolved',
                (e: { code?: string }) => e.code,
              )
            : lib.sd_notify_barrier(0, 1000),
        );
        expect(await Promise.all(batch)).toEqual(
          Array.from({ length: WINDOW }, (_, j) =>
            (k * WINDOW + j) % 2 === 0 ? 'ETIMEDOUT' : -E.ETIMEDOUT,
          ),
        );
      }

      // Aborted: sent to the live peer, aborted before it could answer.
      setNotifySocket(peer.notifySocket);
      for (let i = 0; i < ABORTED; i += WINDOW) {
        const batch = Array.from({ length: WINDOW }, () => {
          const ac = new AbortController();
          const p = lib.barrier({ signal: ac.signal, timeout: 5000 });
          ac.abort();
          return p.then(
            () => 'resolved',
            (e: Error) => e.name,
          );
        });
        expect(await Promise.all(batch)).toEqual(new Array(WINDOW).fill('AbortError'));
        await peer.waitForCount(base + RESOLVED + i + WINDOW);
      }

      // The peers get every barrier (and close its fd): nothing stays in flight.
      for (const p of timeoutPeers) p.resume();
      await Promise.all(timeoutPeers.map((p) => p.waitForCount(WINDOW)));
      await peer.waitForCount(base + RESOLVED + ABORTED);
      expect(openFds()).toBe(before);
      console.log(
        `barrier (${backend}): ${RESOLVED} round trips to the python peer in ${tResolved.toFixed(0)} ms ` +
          `(${((tResolved * 1000) / RESOLVED).toFixed(0)} µs each, ${WINDOW} in flight)`,
      );
    }, 20_000);
  });
}
