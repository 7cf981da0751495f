/**
 * The contract every backend keeps, checked against a real AF_UNIX datagram peer that is not our
 * code (python3, test/helpers/peer.py): the bytes, credentials and file descriptors that arrive,
 * and the errors a sender sees when nobody (or the wrong kind of socket) is listening.
 *
 * One body, run once per backend by builtin.test.ts and libsystemd.test.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';

import { setNotifySocket } from '../helpers/env';
import {
  canSendForOtherPid,
  closerOf,
  fileIdentity,
  liveOtherPid,
  openDevNull,
  openTempFiles,
  unusedPid,
} from '../helpers/fds';
import { countRoutes, loadLib, type ForcedBackend, type Lib } from '../helpers/lib';
import { PythonPeer, uniqueSocketPath, type ReceivedMessage } from '../helpers/peer';
import { brokenAddresses } from '../helpers/broken-addresses';

const E = os.constants.errno;
/** A failing send must come back at once: never wait for a manager that is not reading. */
const PROMPT_MS = 100;
const U64_MAX = 18446744073709551615n;

type State = Parameters<Lib['notify']>[0];

/** Runs fn, measuring how long it took; catches what it throws. */
function timed<T>(fn: () => T): { value: T | undefined; error: unknown; ms: number } {
  const t0 = performance.now();
  try {
    const value = fn();
    return { value, error: undefined, ms: performance.now() - t0 };
  } catch (error) {
    return { value: undefined, error, ms: performance.now() - t0 };
  }
}

const identities = (fds: number[]) => fds.map(fileIdentity);
const received = (m: ReceivedMessage) => m.fds.map(({ dev, ino }) => ({ dev, ino }));

export function contractSuite(backend: ForcedBackend): void {
  let lib: Lib;
  let routes: ReturnType<typeof countRoutes>;
  let pathPeer: PythonPeer;
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
  const peerOf = (kind: 'path' | 'abstract') => (kind === 'path' ? pathPeer : abstractPeer);

  beforeAll(async () => {
    lib = loadLib(backend);
    routes = countRoutes();
    [pathPeer, abstractPeer] = await Promise.all([
      PythonPeer.start(),
      PythonPeer.start({ abstract: true }),
    ]);
    sleeper = liveOtherPid();
    // Warm up (first use loads the addon and libsystemd), so timings below measure sends only.
    setNotifySocket(pathPeer.notifySocket);
    lib.notify('X_WARM_UP=1');
    await pathPeer.next();
    setNotifySocket(undefined);
  });

  afterEach(() => {
    setNotifySocket(undefined);
    // A failed test may leave messages behind; they must not be read as the next test's.
    pathPeer.drain();
    abstractPeer.drain();
  });

  afterAll(async () => {
    routes?.restore();
    sleeper?.kill();
    for (const c of cleanups) {
      try {
        c();
      } catch {
        /* keep tearing down */
      }
    }
    await Promise.all(
      [pathPeer, abstractPeer, ...extraPeers].filter(Boolean).map((p) => p.close()),
    );
  });

  it(`runs on the ${backend} backend, as SDNOTIFY_BACKEND asked`, () => {
    const info = lib.backendInfo();
    expect(info.name).toBe(backend);
    expect(info.reason).toMatch(/\S/);
  });

  describe.each(['path', 'abstract'] as const)('bytes on the wire (%s socket)', (kind) => {
    const cases: Array<[string, State, string]> = [
      ['ready sends READY=1', { ready: true }, 'READY=1'],
      [
        'a UTF-8 status arrives byte for byte',
        { status: 'Grüße — 世界 🚀 ok' },
        'STATUS=Grüße — 世界 🚀 ok',
      ],
      [
        'several fields travel in one datagram, in canonical order whatever the object order',
        { mainPid: 4242, status: 'up', errno: 2, watchdog: true, ready: true },
        'READY=1\nSTATUS=up\nERRNO=2\nMAINPID=4242\nWATCHDOG=1',
      ],
      [
        'every well-known field without fds encodes in the order of sd_notify(3)',
        {
          extendTimeoutUsec: 2_000_000,
          watchdogUsec: 1_000_000,
          watchdog: 'trigger',
          mainPid: 77,
          exitStatus: 3,
          busError: 'org.freedesktop.DBus.Error.Failed',
          errno: 5,
          notifyAccess: 'main',
          status: 's',
          monotonicUsec: 123,
          stopping: true,
          reloading: true,
          ready: true,
        },
        'READY=1\nRELOADING=1\nSTOPPING=1\nMONOTONIC_USEC=123\nSTATUS=s\nNOTIFYACCESS=main\nERRNO=5\n' +
          'BUSERROR=org.freedesktop.DBus.Error.Failed\nEXIT_STATUS=3\nMAINPID=77\nWATCHDOG=trigger\n' +
          'WATCHDOG_USEC=1000000\nEXTEND_TIMEOUT_USEC=2000000',
      ],
      [
        'custom X_ fields follow the well-known ones, in the order given',
        { X_APP_PHASE: 'warm', ready: true, X_COUNT: 42, X_BIG: U64_MAX },
        'READY=1\nX_APP_PHASE=warm\nX_COUNT=42\nX_BIG=18446744073709551615',
      ],
      [
        'a bigint µs value up to 2^64-1 is sent exactly',
        { extendTimeoutUsec: U64_MAX },
        'EXTEND_TIMEOUT_USEC=18446744073709551615',
      ],
      [
        'a bigint µs value above 2^53 is not rounded',
        { watchdogUsec: 2n ** 53n + 1n },
        'WATCHDOG_USEC=9007199254740993',
      ],
      [
        'false and undefined fields are left out',
        { ready: true, stopping: false, status: undefined },
        'READY=1',
      ],
      ['a string state is sent as given', 'STATUS=as given\nX_Y=1', 'STATUS=as given\nX_Y=1'],
      ['a string state keeps its one trailing newline', 'READY=1\n', 'READY=1\n'],
      [
        'a 4096-byte message arrives whole',
        `STATUS=${'x'.repeat(4089)}`,
        `STATUS=${'x'.repeat(4089)}`,
      ],
    ];

    it.each(cases)('%s', async (_name, state, expected) => {
      const peer = peerOf(kind);
      setNotifySocket(peer.notifySocket);
      expect(lib.notify(state)).toBe(true);
      const m = await peer.next();
      expect(m.text).toBe(expected);
      expect(m.data.equals(Buffer.from(expected, 'utf8'))).toBe(true);
      expect(m.truncated).toBe(false);
      expect(m.fds).toEqual([]);
    });

    it('sd_notify sends the state string as given and returns a positive number', async () => {
      const peer = peerOf(kind);
      setNotifySocket(peer.notifySocket);
      expect(lib.sd_notify(0, 'READY=1\nSTATUS=drop-in')).toBeGreaterThan(0);
      expect((await peer.next()).text).toBe('READY=1\nSTATUS=drop-in');
    });
  });

  describe('shorthands', () => {
    beforeEach(() => setNotifySocket(pathPeer.notifySocket));

    it.each([
      ['ready() sends READY=1', () => lib.ready(), 'READY=1'],
      [
        'ready(status) sends READY=1 and STATUS= together',
        () => lib.ready('serving'),
        'READY=1\nSTATUS=serving',
      ],
      ['status(text) sends STATUS=', () => lib.status('half way'), 'STATUS=half way'],
      ['stopping() sends STOPPING=1', () => lib.stopping(), 'STOPPING=1'],
      [
        'stopping(status) sends STOPPING=1 and STATUS=',
        () => lib.stopping('bye'),
        'STOPPING=1\nSTATUS=bye',
      ],
      [
        'extendTimeout(ms) sends EXTEND_TIMEOUT_USEC in µs',
        () => lib.extendTimeout(1500),
        'EXTEND_TIMEOUT_USEC=1500000',
      ],
    ])('%s', async (_name, send, expected) => {
      expect(send()).toBe(true);
      expect((await pathPeer.next()).text).toBe(expected);
    });

    it('reloading() sends RELOADING=1 with the CLOCK_MONOTONIC time in µs, in one datagram', async () => {
      const before = process.hrtime.bigint() / 1000n;
      expect(lib.reloading('reloading config')).toBe(true);
      const after = process.hrtime.bigint() / 1000n;
      const m = await pathPeer.next();
      const match = /^RELOADING=1\nMONOTONIC_USEC=([0-9]+)\nSTATUS=reloading config$/.exec(m.text);
      expect(match).not.toBeNull();
      const usec = BigInt(match![1]);
      expect(usec >= before && usec <= after).toBe(true);
      await pathPeer.expectNothing(50);
    });
  });

  describe('credentials', () => {
    beforeEach(() => setNotifySocket(pathPeer.notifySocket));

    it("carry this process's pid, uid and gid by default", async () => {
      expect(lib.notify({ ready: true })).toBe(true);
      const m = await pathPeer.next();
      expect(m).toMatchObject({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
    });

    it('pid 0 and our own pid both mean this process', async () => {
      expect(lib.notify('X_A=1', { pid: 0 })).toBe(true);
      expect(lib.notify('X_A=2', { pid: process.pid })).toBe(true);
      expect(lib.sd_pid_notify(0, 0, 'X_A=3')).toBeGreaterThan(0);
      const ms = await pathPeer.take(3);
      expect(ms.map((m) => m.pid)).toEqual([process.pid, process.pid, process.pid]);
    });

    it(`another live pid arrives as the sender ${forgesPid ? '(we hold CAP_SYS_ADMIN)' : '(no CAP_SYS_ADMIN: our own pid)'}`, async () => {
      const expected = forgesPid ? sleeper.pid : process.pid;
      expect(lib.notify({ mainPid: sleeper.pid, ready: true }, { pid: sleeper.pid })).toBe(true);
      expect(lib.sd_pid_notify(sleeper.pid, 0, 'READY=1')).toBeGreaterThan(0);
      const [a, b] = await pathPeer.take(2);
      expect(a.pid).toBe(expected);
      expect(b.pid).toBe(expected);
      expect(a.uid).toBe(process.getuid!());
    });

    it('a pid that does not exist is refused by the kernel, and the message is resent with our own', async () => {
      const dead = unusedPid();
      expect(lib.notify('X_DEAD=1', { pid: dead })).toBe(true);
      expect(lib.sd_pid_notify(dead, 0, 'X_DEAD=2')).toBeGreaterThan(0);
      const ms = await pathPeer.take(2);
      expect(ms.map((m) => [m.text, m.pid])).toEqual([
        ['X_DEAD=1', process.pid],
        ['X_DEAD=2', process.pid],
      ]);
      await pathPeer.expectNothing(50);
    });
  });

  describe('file descriptors', () => {
    it.each([1, 3, 253])(
      'sd_pid_notify_with_fds passes %i fd(s); the same files arrive and ours stay open',
      async (n) => {
        const files = openTempFiles(n);
        cleanups.push(files.close);
        setNotifySocket(pathPeer.notifySocket);
        const ids = identities(files.fds);
        expect(
          lib.sd_pid_notify_with_fds(0, 0, 'FDSTORE=1\nFDNAME=files', files.fds),
        ).toBeGreaterThan(0);
        const m = await pathPeer.next();
        expect(m.text).toBe('FDSTORE=1\nFDNAME=files');
        expect(m.ctruncated).toBe(false);
        expect(received(m)).toEqual(ids);
        expect(identities(files.fds)).toEqual(ids);
        files.close();
      },
    );

    it.each([1, 3, 253])(
      'notify({ fdStore }) passes %i fd(s) over an abstract socket',
      async (n) => {
        const files = openTempFiles(n);
        cleanups.push(files.close);
        setNotifySocket(abstractPeer.notifySocket);
        expect(
          lib.notify({ fdStore: true, fdName: 'cache', fdPoll: false }, { fds: files.fds }),
        ).toBe(true);
        const m = await abstractPeer.next();
        expect(m.text).toBe('FDSTORE=1\nFDNAME=cache\nFDPOLL=0');
        expect(received(m)).toEqual(identities(files.fds));
        files.close();
      },
    );

    it('a character device keeps its type (the same /dev/null arrives)', async () => {
      const fd = openDevNull();
      cleanups.push(closerOf(fd));
      setNotifySocket(pathPeer.notifySocket);
      expect(lib.notify({ fdStore: true }, { fds: [fd] })).toBe(true);
      const m = await pathPeer.next();
      expect(received(m)).toEqual([fileIdentity(fd)]);
      expect(m.fds[0].mode & fs.constants.S_IFMT).toBe(fs.constants.S_IFCHR);
    });

    it('fds and credentials for another pid travel in the same message', async () => {
      const files = openTempFiles(2);
      cleanups.push(files.close);
      setNotifySocket(pathPeer.notifySocket);
      expect(lib.sd_pid_notify_with_fds(sleeper.pid, 0, 'FDSTORE=1', files.fds)).toBeGreaterThan(0);
      const m = await pathPeer.next();
      expect(m.pid).toBe(forgesPid ? sleeper.pid : process.pid);
      expect(received(m)).toEqual(identities(files.fds));
      files.close();
    });

    it('sd_pid_notify_with_fds with 254 fds returns -EINVAL (one more than SCM_MAX_FD) and sends nothing', async () => {
      const fd = openDevNull();
      cleanups.push(closerOf(fd));
      setNotifySocket(pathPeer.notifySocket);
      expect(lib.sd_pid_notify_with_fds(0, 0, 'FDSTORE=1', new Array<number>(254).fill(fd))).toBe(
        -E.EINVAL,
      );
      await pathPeer.expectNothing(50);
    });
  });

  describe('the drop-in layer sends what C would', () => {
    beforeEach(() => setNotifySocket(pathPeer.notifySocket));

    it('a Buffer state is sent byte for byte, even when it is not UTF-8', async () => {
      const bytes = Buffer.from([0x58, 0x5f, 0x42, 0x3d, 0xff, 0xfe, 0x0a, 0x41, 0x3d, 0x31]);
      expect(lib.sd_notify(0, bytes)).toBeGreaterThan(0);
      expect((await pathPeer.next()).data.equals(bytes)).toBe(true);
    });

    it('a NUL in the state, or a wrong argument type, throws TypeError and sends nothing', async () => {
      expect(() => lib.sd_notify(0, 'READY=1\0STATUS=x')).toThrow(TypeError);
      expect(() => lib.sd_notify('yes' as never, 'READY=1')).toThrow(TypeError);
      expect(() => lib.sd_notify(0, 42 as never)).toThrow(TypeError);
      expect(() => lib.sd_pid_notify('1' as never, 0, 'READY=1')).toThrow(TypeError);
      expect(() => lib.sd_pid_notify_with_fds(0, 0, 'FDSTORE=1', ['3'] as never)).toThrow(
        TypeError,
      );
      expect(() => lib.sd_pid_notify_with_fds(0, 0, 'FDSTORE=1', 3 as never)).toThrow(TypeError);
      await pathPeer.expectNothing(50);
    });

    it('an fd that is not open: sd_pid_notify_with_fds returns -EBADF, notify() throws EBADF with a hint', async () => {
      // A number far above any open fd (a just-closed one would be reused by the send's own socket).
      const closed = Math.max(...fs.readdirSync('/proc/self/fd').map(Number)) + 1000;
      expect(() => fs.fstatSync(closed)).toThrow(/EBADF/);
      expect(lib.sd_pid_notify_with_fds(0, 0, 'FDSTORE=1', [closed])).toBe(-E.EBADF);
      let error: unknown;
      try {
        lib.notify({ fdStore: true }, { fds: [closed] });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(lib.SdNotifyError);
      expect(error).toMatchObject({ code: 'EBADF', errno: -E.EBADF });
      expect((error as { hint: string }).hint).toMatch(/\S{3}/);
      await pathPeer.expectNothing(50);
    });
  });

  describe('unsetEnvironment', () => {
    it('notify({ unsetEnvironment }) sends, removes NOTIFY_SOCKET, and the next call returns false', async () => {
      setNotifySocket(pathPeer.notifySocket);
      expect(lib.notify({ ready: true }, { unsetEnvironment: true })).toBe(true);
      expect(process.env.NOTIFY_SOCKET).toBeUndefined();
      expect((await pathPeer.next()).text).toBe('READY=1');
      expect(lib.notify({ status: 'after unset' })).toBe(false);
      expect(lib.ready()).toBe(false);
      await pathPeer.expectNothing(50);
    });

    it('sd_notify(1, …) sends, removes NOTIFY_SOCKET, and the next call returns 0', async () => {
      setNotifySocket(pathPeer.notifySocket);
      expect(lib.sd_notify(1, 'READY=1')).toBeGreaterThan(0);
      expect(process.env.NOTIFY_SOCKET).toBeUndefined();
      expect((await pathPeer.next()).text).toBe('READY=1');
      expect(lib.sd_notify(0, 'STATUS=after unset')).toBe(0);
      expect(lib.sd_pid_notify_with_fds(0, true, 'STATUS=after unset', [])).toBe(0);
      await pathPeer.expectNothing(50);
    });

    it('NOTIFY_SOCKET is removed even when the send fails, as libsystemd does', () => {
      setNotifySocket(uniqueSocketPath());
      expect(lib.sd_notify(true, 'READY=1')).toBe(-E.ENOENT);
      expect(process.env.NOTIFY_SOCKET).toBeUndefined();
      setNotifySocket(uniqueSocketPath());
      expect(() => lib.notify({ ready: true }, { unsetEnvironment: true })).toThrow(
        lib.SdNotifyError,
      );
      expect(process.env.NOTIFY_SOCKET).toBeUndefined();
    });

    it('without NOTIFY_SOCKET nothing is sent: notify() is false, sd_notify() is 0', () => {
      setNotifySocket(undefined);
      expect(lib.notify({ ready: true })).toBe(false);
      expect(lib.sd_notify(0, 'READY=1')).toBe(0);
      expect(lib.sd_pid_notify(0, 0, 'READY=1')).toBe(0);
    });
  });

  describe('transport failures', () => {
    const failures = brokenAddresses({ cleanups, startPeer });

    it.each(failures)('%s: notify() throws %s with a hint, at once', async (_what, code, setup) => {
      const address = await setup();
      setNotifySocket(address);
      const r = timed(() => lib.notify({ ready: true, status: 'x' }));
      expect(r.ms).toBeLessThan(PROMPT_MS);
      expect(r.error).toBeInstanceOf(lib.SdNotifyError);
      const err = r.error as InstanceType<Lib['SdNotifyError']>;
      expect(err.code).toBe(code);
      expect(err.errno).toBe(-E[code as keyof typeof E]);
      expect(err.syscall).toMatch(/^[a-z_]+$/);
      expect(err.hint).toMatch(/\S{3}/);
      expect(err.message).toContain(code);
    });

    it.each(failures)('%s: sd_notify() returns -%s, at once', async (_what, code, setup) => {
      const address = await setup();
      setNotifySocket(address);
      const r = timed(() => lib.sd_notify(0, 'READY=1'));
      expect(r.error).toBeUndefined();
      expect(r.ms).toBeLessThan(PROMPT_MS);
      expect(r.value).toBe(-E[code as keyof typeof E]);
      const withFds = timed(() => lib.sd_pid_notify_with_fds(0, 0, 'FDSTORE=1', [0]));
      expect(withFds.value).toBe(-E[code as keyof typeof E]);
      expect(withFds.ms).toBeLessThan(PROMPT_MS);
    });

    it('a NOTIFY_SOCKET that is not an address: notify() throws with a hint, sd_notify() returns -EINVAL', () => {
      setNotifySocket('relative/path.sock');
      const r = timed(() => lib.notify({ ready: true }));
      expect(r.error).toBeInstanceOf(lib.SdNotifyError);
      expect((r.error as InstanceType<Lib['SdNotifyError']>).hint).toMatch(/\S{3}/);
      expect(lib.sd_notify(0, 'READY=1')).toBe(-E.EINVAL);
    });

    it.each(['path', 'abstract'] as const)(
      'a receiver that stopped reading (%s): sends fail with EAGAIN without blocking, and flow again once it reads',
      async (kind) => {
        const peer = await startPeer({ paused: true, abstract: kind === 'abstract' });
        setNotifySocket(peer.notifySocket);
        let sent = 0;
        let failure: InstanceType<Lib['SdNotifyError']> | undefined;
        let slowest = 0;
        for (let i = 0; i < 10_000 && failure === undefined; i++) {
          const r = timed(() => lib.notify(`X_SEQ=${i}`));
          slowest = Math.max(slowest, r.ms);
          if (r.error === undefined) sent += 1;
          else failure = r.error as InstanceType<Lib['SdNotifyError']>;
        }
        expect(failure).toBeInstanceOf(lib.SdNotifyError);
        expect(failure!.code).toBe('EAGAIN');
        expect(failure!.errno).toBe(-E.EAGAIN);
        expect(failure!.hint).toMatch(/\S{3}/);
        expect(slowest).toBeLessThan(PROMPT_MS);
        expect(sent).toBeGreaterThan(0);

        const drop = timed(() => lib.sd_notify(0, 'X_DROPIN=1'));
        expect(drop.value).toBe(-E.EAGAIN);
        expect(drop.ms).toBeLessThan(PROMPT_MS);

        peer.resume();
        const got = await peer.take(sent);
        expect(got.map((m) => m.text)).toEqual(
          Array.from({ length: sent }, (_, i) => `X_SEQ=${i}`),
        );
        expect(lib.notify({ status: 'flowing again' })).toBe(true);
        expect((await peer.next()).text).toBe('STATUS=flowing again');
      },
    );
  });

  describe('routing', () => {
    it(`sent every message above through the ${backend} path of the addon`, () => {
      if (backend === 'libsystemd') {
        expect(routes.libsystemd).toBeGreaterThan(50);
        expect(routes.builtin).toBe(0);
      } else {
        expect(routes.builtin).toBeGreaterThan(50);
        expect(routes.libsystemd).toBe(0);
      }
    });
  });

  describe('the socket option', () => {
    it('sends to options.socket instead of NOTIFY_SOCKET', async () => {
      setNotifySocket(pathPeer.notifySocket);
      expect(lib.notify({ status: 'elsewhere' }, { socket: abstractPeer.notifySocket })).toBe(true);
      expect((await abstractPeer.next()).text).toBe('STATUS=elsewhere');
      await pathPeer.expectNothing(50);
    });

    it('sends to options.socket when NOTIFY_SOCKET is unset', async () => {
      setNotifySocket(undefined);
      expect(lib.notify({ ready: true }, { socket: pathPeer.notifySocket })).toBe(true);
      expect((await pathPeer.next()).text).toBe('READY=1');
    });
  });
}
