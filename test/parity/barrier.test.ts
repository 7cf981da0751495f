/**
 * Barrier parity with the host's libsystemd: its own sd_notify_barrier() (python3 ctypes on
 * libsystemd.so.0; it blocks that python process in poll() until the peer closes the fd) and our
 * sd_notify_barrier() on each backend, sent to the same python peer. What arrives must be the
 * same: the bytes `BARRIER=1`, one fd of the same kind (a FIFO: the pipe's write end), the same
 * credentials relative to the sender. The return codes, and whether NOTIFY_SOCKET is unset
 * afterwards, must match for every kind of NOTIFY_SOCKET, including a peer that never answers.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

import { setNotifySocket } from '../helpers/env';
import { BACKENDS, countRoutes, loadLib, type ForcedBackend, type Lib } from '../helpers/lib';
import { libsystemdSend, type LibsystemdCase } from '../helpers/libsystemd';
import {
  PythonPeer,
  makeStaleSocket,
  uniqueName,
  uniqueSocketPath,
  type ReceivedMessage,
} from '../helpers/peer';

const E = os.constants.errno;
const U64_MAX = 2n ** 64n - 1n;

/** What arrived, with the pid made relative to the sender and each fd reduced to its kind. */
interface Observed {
  rc: number;
  data: string;
  pid: string;
  uid: number;
  gid: number;
  /** Each fd's st_mode (type and permission bits) and st_dev (pipefs for a pipe); inodes differ per pipe. */
  fds: Array<{ type: number; mode: number; dev: number }>;
}

const observe = (rc: number, m: ReceivedMessage, senderPid: number): Observed => ({
  rc,
  data: m.data.toString('utf8'),
  pid: m.pid === senderPid ? 'sender' : `pid ${m.pid}`,
  uid: m.uid,
  gid: m.gid,
  fds: m.fds.map(({ mode, dev }) => ({ type: mode & fs.constants.S_IFMT, mode, dev })),
});

const barrierCase = (
  notifySocket: string | null,
  timeoutUsec: number | bigint,
  unsetEnvironment = false,
): LibsystemdCase => ({
  notifySocket,
  pid: 0,
  state: Buffer.alloc(0),
  fds: [],
  unsetEnvironment,
  barrierTimeoutUsec: timeoutUsec,
});

describe('barrier parity with libsystemd (its sd_notify_barrier through python3 ctypes)', () => {
  let peer: PythonPeer;
  const peers: PythonPeer[] = [];
  const cleanups: Array<() => void> = [];
  const libs = {} as Record<ForcedBackend, Lib>;
  let reference: Observed;

  beforeAll(async () => {
    for (const b of BACKENDS) libs[b] = loadLib(b);
    peer = await PythonPeer.start();
    peers.push(peer);
    const [result] = await libsystemdSend([barrierCase(peer.notifySocket, 5_000_000)]);
    reference = observe(result.rc, await peer.next(), result.senderPid);
  });

  afterEach(() => {
    setNotifySocket(undefined);
    peer.drain();
  });

  afterAll(async () => {
    setNotifySocket(undefined);
    for (const c of cleanups) c();
    await Promise.all(peers.map((p) => p.close()));
  });

  it('libsystemd’s barrier arrives as BARRIER=1 with one FIFO fd and returns 1 once the peer closed it', () => {
    expect(reference).toEqual({
      rc: 1,
      data: 'BARRIER=1',
      pid: 'sender',
      uid: process.getuid!(),
      gid: process.getgid!(),
      fds: [{ type: fs.constants.S_IFIFO, mode: expect.any(Number), dev: expect.any(Number) }],
    });
  });

  describe.each(BACKENDS)('the %s backend', (backend) => {
    it('sd_notify_barrier() sends the datagram libsystemd sends: the same bytes, fd kind and credentials', async () => {
      const lib = libs[backend];
      const routes = countRoutes();
      let ours: Observed[];
      try {
        setNotifySocket(peer.notifySocket);
        const a = await lib.sd_notify_barrier(0, 5_000_000);
        const b = await lib.sd_notify_barrier(0, U64_MAX);
        const c = (await lib.barrier()) ? 1 : 0;
        const ms = await peer.take(3);
        ours = [a, b, c].map((rc, i) => observe(rc, ms[i], process.pid));
      } finally {
        routes.restore();
      }
      expect(ours).toEqual([reference, reference, reference]);
      if (backend === 'libsystemd') expect(routes).toMatchObject({ libsystemd: 3, builtin: 0 });
      else expect(routes).toMatchObject({ libsystemd: 0, builtin: 3 });
      await peer.expectNothing(50);
    });
  });

  describe('return codes for each NOTIFY_SOCKET', () => {
    /** [what, NOTIFY_SOCKET, timeout in µs]; the peer that never reads is added per run. */
    let addresses: Array<[string, string | null, number]>;

    beforeAll(async () => {
      const [stream, abstractStream] = await Promise.all([
        PythonPeer.start({ type: 'stream' }),
        PythonPeer.start({ type: 'stream', abstract: true }),
      ]);
      peers.push(stream, abstractStream);
      const regular = uniqueSocketPath();
      fs.writeFileSync(regular, '');
      const stale = uniqueSocketPath();
      makeStaleSocket(stale);
      const longDir = path.join('/tmp', 'd'.repeat(100));
      cleanups.push(
        () => fs.rmSync(regular, { force: true }),
        () => fs.rmSync(stale, { force: true }),
      );
      addresses = [
        ['unset', null, 1_000_000],
        ['empty', '', 1_000_000],
        ['a relative path', 'relative/notify.sock', 1_000_000],
        ['a lone "@"', '@', 1_000_000],
        ['a missing path', uniqueSocketPath(), 1_000_000],
        ['a regular file', regular, 1_000_000],
        ['a stale socket file', stale, 1_000_000],
        ['a stream socket', stream.notifySocket, 1_000_000],
        ['an abstract name bound by a stream socket', abstractStream.notifySocket, 1_000_000],
        ['an unbound abstract name', `@${uniqueName('sdn-none')}`, 1_000_000],
        [
          'a 108-byte path (one too long)',
          `${longDir}/${'p'.repeat(108 - longDir.length - 1)}`,
          1_000_000,
        ],
        ['a live datagram peer', peer.notifySocket, 1_000_000],
      ];
    });

    it.each(BACKENDS)(
      'the %s backend returns what libsystemd returns, unsets NOTIFY_SOCKET alike, and times out alike',
      async (backend) => {
        const lib = libs[backend];
        // Its queue holds 10 datagrams: a fresh one per run takes this run's 8 barriers.
        const paused = await PythonPeer.start({ paused: true });
        peers.push(paused);
        const cases = [
          ...addresses,
          ['a peer that never reads, 200 ms', paused.notifySocket, 200_000] as const,
          ['a peer that never reads, 0 µs', paused.notifySocket, 0] as const,
        ].flatMap(([name, value, timeout]) =>
          [false, true].map((unset) => ({
            name: `${name}${unset ? ', unset' : ''}`,
            value,
            timeout,
            unset,
          })),
        );
        const refs = await libsystemdSend(
          cases.map((c) => barrierCase(c.value, c.timeout, c.unset)),
        );
        const ours: Array<{ rc: number; envAfter: string | null; elapsedMs: number }> = [];
        for (const c of cases) {
          setNotifySocket(c.value ?? undefined);
          const t0 = performance.now();
          const rc = await lib.sd_notify_barrier(c.unset, c.timeout);
          ours.push({
            rc,
            envAfter: process.env.NOTIFY_SOCKET ?? null,
            elapsedMs: performance.now() - t0,
          });
        }
        setNotifySocket(undefined);
        const table = cases.map((c, i) => ({
          case: c.name,
          libsystemd: { rc: refs[i].rc, unset: refs[i].envAfter === null },
          ours: { rc: ours[i].rc, unset: ours[i].envAfter === null },
        }));
        const differ = table.filter(
          (t) => t.libsystemd.rc !== t.ours.rc || t.libsystemd.unset !== t.ours.unset,
        );
        const waits = cases
          .map((c, i) => ({ c, ref: refs[i].elapsedMs, ours: ours[i].elapsedMs }))
          .filter(({ c }) => c.timeout === 200_000);
        console.log(
          `barrier return-code parity (${backend} backend): compared ${cases.length} cases, ${differ.length} differ; ` +
            `a 200 ms timeout took ${waits.map((w) => `${w.ref.toFixed(0)} ms (libsystemd) / ${w.ours.toFixed(0)} ms (ours)`).join(', ')}`,
        );
        expect(differ).toEqual([]);
        // The ones that matter, spelled out.
        const rcOf = (name: string) => table.find((t) => t.case === name)!.ours.rc;
        expect(rcOf('unset')).toBe(0);
        expect(rcOf('a missing path')).toBe(-E.ENOENT);
        expect(rcOf('a live datagram peer')).toBe(1);
        expect(rcOf('a peer that never reads, 200 ms')).toBe(-E.ETIMEDOUT);
        for (const w of waits) {
          expect(w.ref).toBeGreaterThanOrEqual(190);
          expect(Math.abs(w.ours - w.ref)).toBeLessThan(50);
        }
        // The live peer got one barrier from each sender per case (plain and unset).
        await peer.take(4);
        await peer.expectNothing(50);
      },
    );
  });
});
