/**
 * Byte parity with the host's libsystemd: every case is sent once by the real
 * sd_pid_notify_with_fds() (python3 ctypes on libsystemd.so.0) and once by our drop-in
 * sd_pid_notify_with_fds() on each backend, to the same python peer. What arrives must be the
 * same: the bytes, the credentials (relative to the sender: "own pid" is the sender's own), and
 * the number and identity of the file descriptors. Return codes must match too, including for
 * broken NOTIFY_SOCKET values.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { setNotifySocket } from '../helpers/env';
import {
  fileIdentity,
  liveOtherPid,
  openDevNull,
  openTempFiles,
  closerOf,
  unusedPid,
} from '../helpers/fds';
import { BACKENDS, countRoutes, loadLib, type ForcedBackend, type Lib } from '../helpers/lib';
import { libsystemdSend, type LibsystemdCase } from '../helpers/libsystemd';
import {
  PythonPeer,
  makeStaleSocket,
  uniqueName,
  uniqueSocketPath,
  type ReceivedMessage,
} from '../helpers/peer';

type PidKind = 'own' | 'other' | 'zero' | 'nonexistent';

interface Case {
  name: string;
  state: string;
  pid: PidKind;
  nfds: number;
}

const STATES: Array<[string, string]> = [
  ['ready', 'READY=1'],
  ['ready with a UTF-8 status', 'READY=1\nSTATUS=Grüße — 世界 🚀'],
  ['a trailing newline', 'STATUS=ends with a newline\n'],
  ['fd store with a name', 'FDSTORE=1\nFDNAME=db'],
  ['reloading with a u64 timestamp', 'RELOADING=1\nMONOTONIC_USEC=18446744073709551615'],
  ['a custom field with "=" in its value', 'X_CUSTOM=a=b=c\nWATCHDOG=trigger'],
  ['a 4096-byte message', `STATUS=${'s'.repeat(4089)}`],
  ['text that is not an assignment', 'not an assignment at all'],
  ['an empty state', ''],
];
const PIDS: PidKind[] = ['own', 'other', 'zero', 'nonexistent'];
const FD_COUNTS = [0, 1, 3];

const MATRIX: Case[] = [];
for (const [stateName, state] of STATES) {
  for (const pid of PIDS) {
    for (const nfds of FD_COUNTS) {
      MATRIX.push({ name: `${stateName}, pid ${pid}, ${nfds} fds`, state, pid, nfds });
    }
  }
}
// Beyond the matrix: the most fds a message can carry, alone and with another pid's credentials.
MATRIX.push({ name: 'fd store, pid zero, 253 fds', state: 'FDSTORE=1', pid: 'zero', nfds: 253 });
MATRIX.push({
  name: 'fd store, pid other, 253 fds',
  state: 'FDSTORE=1\nFDNAME=many',
  pid: 'other',
  nfds: 253,
});
// Longer than the manager reads, which the drop-in layer still sends as libsystemd does.
MATRIX.push({
  name: 'a 9000-byte message',
  state: `STATUS=${'l'.repeat(8993)}`,
  pid: 'zero',
  nfds: 0,
});

/** What arrived, with the pid made relative to the sender. */
interface Observed {
  rc: number;
  data: string;
  pid: string;
  uid: number;
  gid: number;
  fds: Array<{ dev: number; ino: number }>;
}

describe('parity with libsystemd (sd_pid_notify_with_fds through python3 ctypes)', () => {
  let peer: PythonPeer;
  let sleeper: ReturnType<typeof liveOtherPid>;
  let deadPid: number;
  let fdPool: number[];
  const cleanups: Array<() => void> = [];
  let reference: Observed[];
  const libs = {} as Record<ForcedBackend, Lib>;

  const pidValue = (kind: PidKind): number =>
    ({ own: process.pid, other: sleeper.pid, zero: 0, nonexistent: deadPid })[kind];
  const fdsFor = (n: number) => fdPool.slice(0, n);
  const observe = (rc: number, m: ReceivedMessage, senderPid: number): Observed => ({
    rc,
    data: m.data.toString('base64'),
    pid: m.pid === senderPid ? 'sender' : m.pid === sleeper.pid ? 'other' : `pid ${m.pid}`,
    uid: m.uid,
    gid: m.gid,
    fds: m.fds.map(({ dev, ino }) => ({ dev, ino })),
  });

  beforeAll(async () => {
    for (const b of BACKENDS) libs[b] = loadLib(b);
    peer = await PythonPeer.start();
    sleeper = liveOtherPid();
    deadPid = unusedPid();
    // 253 fds: temp files (each its own inode) with /dev/null in second place, a character device.
    const files = openTempFiles(252);
    const devNull = openDevNull();
    cleanups.push(files.close, closerOf(devNull));
    fdPool = [files.fds[0], devNull, ...files.fds.slice(1)];

    // The reference: one python process sends the whole matrix while the peer reads.
    const [results, messages] = await Promise.all([
      libsystemdSend(
        MATRIX.map((c): LibsystemdCase => ({
          notifySocket: peer.notifySocket,
          pid: c.pid === 'own' ? 'self' : pidValue(c.pid),
          state: Buffer.from(c.state, 'utf8'),
          fds: fdsFor(c.nfds),
        })),
      ),
      peer.take(MATRIX.length, 10_000),
    ]);
    reference = MATRIX.map((_, i) => observe(results[i].rc, messages[i], results[i].senderPid));
  });

  afterAll(async () => {
    setNotifySocket(undefined);
    sleeper?.kill();
    for (const c of cleanups) c();
    await peer?.close();
  });

  it('the reference sends arrive with the fds that were sent', () => {
    MATRIX.forEach((c, i) => {
      expect(reference[i].rc).toBe(1);
      expect(reference[i].fds).toEqual(fdsFor(c.nfds).map(fileIdentity));
    });
  });

  describe.each(BACKENDS)('the %s backend', (backend) => {
    it(`matches libsystemd byte for byte, in credentials and in fds, on ${MATRIX.length} cases`, async () => {
      const lib = libs[backend];
      const routes = countRoutes();
      const mismatches: Array<{ case: string; libsystemd: Observed; ours: Observed }> = [];
      try {
        setNotifySocket(peer.notifySocket);
        for (const [i, c] of MATRIX.entries()) {
          const rc = lib.sd_pid_notify_with_fds(pidValue(c.pid), 0, c.state, fdsFor(c.nfds));
          const ours = observe(rc, await peer.next(), process.pid);
          try {
            expect(ours).toEqual(reference[i]);
          } catch {
            mismatches.push({ case: c.name, libsystemd: reference[i], ours });
          }
        }
      } finally {
        routes.restore();
      }
      console.log(
        `parity (${backend} backend): compared ${MATRIX.length} cases with libsystemd, ${mismatches.length} differ`,
      );
      expect(mismatches).toEqual([]);
      // Each message really went through the backend under test.
      if (backend === 'libsystemd')
        expect(routes).toMatchObject({ libsystemd: MATRIX.length, builtin: 0 });
      else expect(routes.libsystemd).toBe(0);
      await peer.expectNothing(50);
    });
  });

  describe('return codes for each NOTIFY_SOCKET', () => {
    let streamPeers: PythonPeer[];
    /** [what, NOTIFY_SOCKET, the backends it applies to (default: both)] */
    let addresses: Array<[string, string | null, ForcedBackend[]?]>;

    beforeAll(async () => {
      streamPeers = await Promise.all([
        PythonPeer.start({ type: 'stream' }),
        PythonPeer.start({ type: 'seqpacket' }),
        PythonPeer.start({ type: 'stream', abstract: true }),
      ]);
      const [streamPeer, seqpacketPeer, abstractStreamPeer] = streamPeers;
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
        ['unset', null],
        ['empty', ''],
        ['a relative path', 'relative/notify.sock'],
        ['the root directory "/"', '/'],
        ['a lone "@"', '@'],
        ['a missing path', uniqueSocketPath()],
        ['a regular file', regular],
        ['a stale socket file', stale],
        ['a stream socket', streamPeer.notifySocket],
        ['a seqpacket socket', seqpacketPeer.notifySocket],
        ['an abstract name bound by a stream socket', abstractStreamPeer.notifySocket],
        ['a double slash "//"', '//'],
        ['a leading space', ` ${peer.notifySocket}`],
        ['an unbound abstract name', `@${uniqueName('sdn-none')}`],
        ['a live datagram peer', peer.notifySocket],
        [
          'a 107-byte missing path (fits sun_path)',
          `${longDir}/${'p'.repeat(107 - longDir.length - 1)}`,
        ],
        ['a 108-byte path (one too long)', `${longDir}/${'p'.repeat(108 - longDir.length - 1)}`],
        ['a 200-byte path', `${longDir}/${'p'.repeat(200 - longDir.length - 1)}`],
        ['a 107-byte abstract name', `@${'a'.repeat(107)}`],
        ['a 108-byte abstract name', `@${'a'.repeat(108)}`],
        // The builtin backend has no vsock yet (EAFNOSUPPORT by design); libsystemd 252 neither.
        ['a vsock address', 'vsock:2:1234', ['libsystemd']],
      ];
    });

    afterAll(async () => {
      await Promise.all((streamPeers ?? []).map((p) => p.close()));
    });

    it.each(BACKENDS)(
      'the %s backend returns what libsystemd returns, and unsets NOTIFY_SOCKET alike',
      async (backend) => {
        const lib = libs[backend];
        const cases = addresses
          .filter(([, , only]) => only === undefined || only.includes(backend))
          .flatMap(([name, value]) =>
            [false, true].map((unset) => ({
              name: `${name}${unset ? ', unset' : ''}`,
              value,
              unset,
            })),
          );
        const refs = await libsystemdSend(
          cases.map((c) => ({
            notifySocket: c.value,
            pid: 0,
            state: Buffer.from('X_RC=1'),
            fds: [],
            unsetEnvironment: c.unset,
          })),
        );
        const ours = cases.map((c) => {
          setNotifySocket(c.value ?? undefined);
          const rc = lib.sd_pid_notify_with_fds(0, c.unset, 'X_RC=1', []);
          return { rc, envAfter: process.env.NOTIFY_SOCKET ?? null };
        });
        setNotifySocket(undefined);
        const table = cases.map((c, i) => ({
          case: c.name,
          libsystemd: { rc: refs[i].rc, unset: refs[i].envAfter === null },
          ours: { rc: ours[i].rc, unset: ours[i].envAfter === null },
        }));
        const differ = table.filter(
          (t) => t.libsystemd.rc !== t.ours.rc || t.libsystemd.unset !== t.ours.unset,
        );
        console.log(
          `return-code parity (${backend} backend): compared ${cases.length} cases, ${differ.length} differ`,
        );
        // The live peer got exactly two messages from each sender (plain and unset).
        await peer.take(4);
        await peer.expectNothing(50);
        expect(differ).toEqual([]);
      },
    );
  });
});
