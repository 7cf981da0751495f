/**
 * The fd store's contract (DESIGN §3), on each backend: what storeFd, removeFds and saveState put
 * on the wire, checked against a real peer that is not our code (python3, test/helpers/peer.py:
 * it fstat()s every fd it receives and reports dev/ino/mode), and what a sealed state memfd is,
 * checked on the fds our own NotifyListener (sdnotify/testing) receives in this process.
 *
 * The fd a Node object stores is identified without asking Node: the kernel's socket tables give
 * a socket's inode from its port, and /proc/self/fd says which of our fds holds that inode.
 *
 * One body, run once per backend by fdstore-builtin.test.ts and fdstore-libsystemd.test.ts.
 */
import { spawnSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';

import { NotifyListener, type ReceivedNotification } from '../../lib/testing';
import { setEnv, setNotifySocket } from '../helpers/env';
import { fileIdentity, openFds, openTempFiles } from '../helpers/fds';
import { countRoutes, loadLib, type ForcedBackend, type Lib } from '../helpers/lib';
import {
  PythonPeer,
  makeStaleSocket,
  uniqueSocketPath,
  type ReceivedMessage,
} from '../helpers/peer';
import { S_IFMT, S_IFREG, S_IFSOCK, fdsOfSocketInode, inetSocketInode } from '../helpers/sockets';

/** Sends in flight before reading (the kernel queues about 10 datagrams per receiver). */
const WINDOW = 8;
/** F_GET_SEALS and the four seals saveState must set (F_SEAL_SEAL|SHRINK|GROW|WRITE). */
const F_GET_SEALS = 1034;
const ALL_SEALS = 1 | 2 | 4 | 8;

type StorableTarget = Parameters<Lib['storeFd']>[0];

/** A storable object and the fd behind it, found independently of the object's internals. */
interface Subject {
  target: StorableTarget;
  fd: number;
  mode: number;
}

function listenTcp(): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve(server));
  });
}

/** A connected client and the server's end of it (kept open: a closed far end would close ours). */
async function connectTo(
  server: net.Server,
): Promise<{ client: net.Socket; accepted: net.Socket }> {
  const { port } = server.address() as net.AddressInfo;
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = await new Promise<net.Socket>((resolve, reject) => {
    const c = net.connect({ host: '127.0.0.1', port }, () => resolve(c));
    c.once('error', reject);
  });
  return { client, accepted: await accepted };
}

function bindUdp(): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', reject);
    socket.bind({ address: '127.0.0.1', port: 0 }, () => resolve(socket));
  });
}

/** The one fd of ours that holds this socket inode. */
function onlyFdOf(ino: number): number {
  const fds = fdsOfSocketInode(ino);
  if (fds.length !== 1) throw new Error(`expected one fd for socket:[${ino}], found ${fds.length}`);
  return fds[0];
}

/** F_GET_SEALS on `fd`, asked by python3 (Node has no fcntl). */
function sealsOf(fd: number): number {
  const r = spawnSync('python3', ['-c', `import fcntl; print(fcntl.fcntl(3, ${F_GET_SEALS}))`], {
    stdio: ['ignore', 'pipe', 'pipe', fd],
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`F_GET_SEALS failed: ${r.stderr}`);
  return Number(r.stdout.trim());
}

/** The whole content of `fd`, read from offset 0. */
function contentOf(fd: number): Buffer {
  const size = fs.fstatSync(fd).size;
  const buf = Buffer.alloc(size);
  let done = 0;
  while (done < size) {
    const n = fs.readSync(fd, buf, done, size - done, done);
    if (n === 0) break;
    done += n;
  }
  return buf.subarray(0, done);
}

/** Our fds that are memfds. */
function memfdsOpen(): number[] {
  return fs
    .readdirSync('/proc/self/fd')
    .filter((n) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${n}`).startsWith('/memfd:');
      } catch {
        return false;
      }
    })
    .map(Number);
}

const text = (m: ReceivedNotification) => m.raw.toString('utf8');
const identity = (m: ReceivedMessage) => m.fds.map(({ dev, ino }) => ({ dev, ino }));

export function fdStoreSuite(backend: ForcedBackend): void {
  let lib: Lib;
  let peer: PythonPeer;
  let files: ReturnType<typeof openTempFiles>;
  const listeners: NotifyListener[] = [];
  const cleanups: Array<() => unknown> = [];

  /** A NotifyListener in this process: what it receives are fds of ours, to inspect. */
  const listen = async () => {
    const l = await NotifyListener.create();
    listeners.push(l);
    return l;
  };

  /** Takes the listener's next message and makes its fds ours (closed by the test). */
  const nextOwned = async (l: NotifyListener) => {
    const m = await l.next(2000);
    for (const fd of m.fds) {
      l.take(fd);
      cleanups.push(() => fs.closeSync(fd));
    }
    return m;
  };

  beforeAll(async () => {
    lib = loadLib(backend);
    peer = await PythonPeer.start();
    files = openTempFiles(2);
    // Warm up (the first send loads the addon and libsystemd).
    setNotifySocket(peer.notifySocket);
    lib.notify('X_WARM_UP=1');
    await peer.next();
    setNotifySocket(undefined);
  });

  afterEach(() => {
    setNotifySocket(undefined);
    setEnv('FDSTORE', undefined);
    peer.drain();
  });

  afterAll(async () => {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch {
        /* keep tearing down */
      }
    }
    for (const l of listeners) l.close();
    files?.close();
    await peer?.close();
  });

  const subjects: Array<[string, () => Promise<Subject>]> = [
    [
      'a raw fd number',
      async () => {
        const fd = files.fds[0];
        return { target: fd, fd, mode: S_IFREG };
      },
    ],
    [
      'a listening TCP net.Server',
      async () => {
        const server = await listenTcp();
        cleanups.push(() => server.close());
        const { port } = server.address() as net.AddressInfo;
        return {
          target: server,
          fd: onlyFdOf(inetSocketInode('tcp', port, 'listen')),
          mode: S_IFSOCK,
        };
      },
    ],
    [
      'a connected net.Socket',
      async () => {
        const server = await listenTcp();
        const { client, accepted } = await connectTo(server);
        cleanups.push(() => server.close());
        cleanups.push(
          () => client.destroy(),
          () => accepted.destroy(),
        );
        const ino = inetSocketInode('tcp', client.localPort!, 'established');
        return { target: client, fd: onlyFdOf(ino), mode: S_IFSOCK };
      },
    ],
    [
      'a bound dgram.Socket (udp4)',
      async () => {
        const socket = await bindUdp();
        cleanups.push(() => socket.close());
        const ino = inetSocketInode('udp', socket.address().port);
        return { target: socket, fd: onlyFdOf(ino), mode: S_IFSOCK };
      },
    ],
    [
      'an fs.promises.FileHandle',
      async () => {
        const handle = await fs.promises.open(__filename, 'r');
        cleanups.push(() => handle.close());
        return { target: handle, fd: handle.fd, mode: S_IFREG };
      },
    ],
  ];

  describe('storeFd', () => {
    it.each(subjects)(
      'storing %s sends FDSTORE=1 and FDNAME= with exactly that one fd, which stays open here',
      async (_what, make) => {
        const s = await make();
        const before = fileIdentity(s.fd);
        setNotifySocket(peer.notifySocket);
        expect(lib.storeFd(s.target, { name: 'web' })).toBe(true);
        const m = await peer.next();
        expect(m.text).toBe('FDSTORE=1\nFDNAME=web');
        expect(m.fds).toHaveLength(1);
        expect(identity(m)).toEqual([before]);
        expect(m.fds[0].mode & S_IFMT).toBe(s.mode);
        expect(fileIdentity(s.fd)).toEqual(before);
      },
    );

    it.each(subjects)('storing %s with poll: false adds FDPOLL=0', async (_what, make) => {
      const s = await make();
      setNotifySocket(peer.notifySocket);
      expect(lib.storeFd(s.target, { name: 'conn-1', poll: false })).toBe(true);
      const m = await peer.next();
      expect(m.text).toBe('FDSTORE=1\nFDNAME=conn-1\nFDPOLL=0');
      expect(identity(m)).toEqual([fileIdentity(s.fd)]);
    });

    it('poll: true sends no FDPOLL (polling is the manager default)', async () => {
      setNotifySocket(peer.notifySocket);
      expect(lib.storeFd(files.fds[1], { name: 'polled', poll: true })).toBe(true);
      expect((await peer.next()).text).toBe('FDSTORE=1\nFDNAME=polled');
    });

    it('options.socket sends to that socket when NOTIFY_SOCKET is unset', async () => {
      setNotifySocket(undefined);
      expect(lib.storeFd(files.fds[0], { name: 'elsewhere', socket: peer.notifySocket })).toBe(
        true,
      );
      const m = await peer.next();
      expect(m.text).toBe('FDSTORE=1\nFDNAME=elsewhere');
      expect(identity(m)).toEqual([fileIdentity(files.fds[0])]);
    });

    it('a transport failure is an SdNotifyError, and the fd stays open here', async () => {
      const stale = uniqueSocketPath('sdn-stale');
      makeStaleSocket(stale);
      cleanups.push(() => fs.rmSync(stale, { force: true }));
      const before = fileIdentity(files.fds[0]);
      setNotifySocket(stale);
      expect(() => lib.storeFd(files.fds[0], { name: 'refused' })).toThrow(
        expect.objectContaining({ name: 'SdNotifyError', code: 'ECONNREFUSED' }),
      );
      expect(() => lib.removeFds('refused')).toThrow(
        expect.objectContaining({ name: 'SdNotifyError', code: 'ECONNREFUSED' }),
      );
      expect(fileIdentity(files.fds[0])).toEqual(before);
    });

    it('options.pid (our own) sends the fd as usual', async () => {
      setNotifySocket(peer.notifySocket);
      expect(lib.storeFd(files.fds[0], { name: 'mine', pid: process.pid })).toBe(true);
      const m = await peer.next();
      expect(m.text).toBe('FDSTORE=1\nFDNAME=mine');
      expect(identity(m)).toEqual([fileIdentity(files.fds[0])]);
    });

    it('returns false and sends nothing when the process is not supervised', async () => {
      setNotifySocket(undefined);
      expect(lib.storeFd(files.fds[0], { name: 'nobody' })).toBe(false);
      await peer.expectNothing(100);
    });

    it('a name of 255 printable ASCII characters (spaces and punctuation included) is accepted', async () => {
      setNotifySocket(peer.notifySocket);
      const name = `web socket #1 (http) ~!@$%^&*=+[]{}|;'",.<>/?\``.padEnd(255, 'x');
      expect(name).toHaveLength(255);
      expect(lib.storeFd(files.fds[0], { name })).toBe(true);
      expect((await peer.next()).text).toBe(`FDSTORE=1\nFDNAME=${name}`);
    });
  });

  const badNames: Array<[string, string]> = [
    ['a colon (the LISTEN_FDNAMES separator)', 'a:b'],
    ['a lone colon', ':'],
    ['a tab (a control character)', 'a\tb'],
    ['a newline', 'a\nFDSTORE=1'],
    ['DEL (0x7f)', 'a\x7fb'],
    ['a NUL', 'a\0b'],
    ['256 characters', 'x'.repeat(256)],
    ['nothing (the empty name)', ''],
    ['non-ASCII letters', 'naïve'],
    ['an emoji', 'fd🚀'],
  ];

  describe('names the manager would ignore are refused before sending', () => {
    it.each(badNames)('storeFd with a name with %s throws RangeError', async (_what, name) => {
      setNotifySocket(peer.notifySocket);
      expect(() => lib.storeFd(files.fds[0], { name })).toThrow(RangeError);
      await peer.expectNothing(60);
    });

    it.each(badNames)('removeFds with a name with %s throws RangeError', async (_what, name) => {
      setNotifySocket(peer.notifySocket);
      expect(() => lib.removeFds(name)).toThrow(RangeError);
      await peer.expectNothing(60);
    });

    it.each(badNames.filter(([, n]) => n !== ''))(
      'saveState with a name with %s throws RangeError',
      async (_what, name) => {
        setNotifySocket(peer.notifySocket);
        expect(() => lib.saveState('x', { name })).toThrow(RangeError);
        await peer.expectNothing(60);
      },
    );
  });

  describe('wrong argument types are a TypeError, and nothing is sent', () => {
    const wrongTargets: Array<[string, () => unknown]> = [
      ['a numeric string', () => '3'],
      ['null', () => null],
      ['undefined', () => undefined],
      ['a plain object', () => ({})],
      ['an object whose fd is a string', () => ({ fd: '3' })],
      ['a Buffer', () => Buffer.alloc(4)],
      ['a negative number', () => -1],
      ['a fraction', () => 3.5],
      ['NaN', () => NaN],
      ['a bigint', () => 3n],
      ['a net.Server that is not listening', () => net.createServer()],
      ['a net.Socket that is not connected', () => new net.Socket()],
      [
        'a dgram.Socket that is not bound',
        () => {
          const s = dgram.createSocket('udp4');
          cleanups.push(() => s.close());
          return s;
        },
      ],
    ];

    it.each(wrongTargets)('storeFd(%s) throws TypeError', async (_what, make) => {
      setNotifySocket(peer.notifySocket);
      expect(() => lib.storeFd(make() as never, { name: 'x' })).toThrow(TypeError);
      await peer.expectNothing(60);
    });

    it('storeFd of a closed FileHandle throws TypeError', async () => {
      const handle = await fs.promises.open(__filename, 'r');
      await handle.close();
      setNotifySocket(peer.notifySocket);
      expect(() => lib.storeFd(handle, { name: 'x' })).toThrow(TypeError);
      await peer.expectNothing(60);
    });

    it.each<[string, unknown]>([
      ['no options', undefined],
      ['options without a name', {}],
      ['a numeric name', { name: 3 }],
      ['a non-boolean poll', { name: 'x', poll: 0 }],
    ])('storeFd with %s throws TypeError', async (_what, options) => {
      setNotifySocket(peer.notifySocket);
      expect(() => lib.storeFd(files.fds[0], options as never)).toThrow(TypeError);
      await peer.expectNothing(60);
    });

    it.each<[string, unknown]>([
      ['a number', 42],
      ['a plain object', { data: 'x' }],
      ['null', null],
      ['an array of numbers', [1, 2, 3]],
    ])('saveState(%s) throws TypeError', async (_what, data) => {
      setNotifySocket(peer.notifySocket);
      expect(() => lib.saveState(data as never)).toThrow(TypeError);
      await peer.expectNothing(60);
    });

    it('removeFds with a non-string name throws TypeError', () => {
      setNotifySocket(peer.notifySocket);
      expect(() => lib.removeFds(7 as never)).toThrow(TypeError);
    });
  });

  describe('removeFds', () => {
    it('sends FDSTOREREMOVE=1 and FDNAME= with no fd', async () => {
      setNotifySocket(peer.notifySocket);
      expect(lib.removeFds('web')).toBe(true);
      const m = await peer.next();
      expect(m.text).toBe('FDSTOREREMOVE=1\nFDNAME=web');
      expect(m.fds).toEqual([]);
    });

    it('goes to options.socket, and returns false when not supervised', async () => {
      setNotifySocket(undefined);
      expect(lib.removeFds('gone')).toBe(false);
      expect(lib.removeFds('gone', { socket: peer.notifySocket })).toBe(true);
      expect((await peer.next()).text).toBe('FDSTOREREMOVE=1\nFDNAME=gone');
    });
  });

  describe('saveState', () => {
    it('stores the data in a sealed memfd as FDSTORE=1, FDNAME=state.1, FDPOLL=0, and closes its own copy', async () => {
      const fresh = loadLib(backend);
      const l = await listen();
      setNotifySocket(l.notifySocket);
      const memfdsBefore = memfdsOpen();
      const data = Buffer.from('{"sessions":[1,2,3]}\n\0binary\xff', 'latin1');
      expect(fresh.saveState(data)).toBe(true);
      const m = await nextOwned(l);
      expect(text(m)).toBe('FDSTORE=1\nFDNAME=state.1\nFDPOLL=0');
      expect(m.fds).toHaveLength(1);
      const fd = m.fds[0];
      expect(fs.readlinkSync(`/proc/self/fd/${fd}`)).toMatch(/^\/memfd:/);
      expect(contentOf(fd).equals(data)).toBe(true);
      // The only new memfd in this process is the copy that arrived: the sender closed its own.
      expect(memfdsOpen().filter((n) => !memfdsBefore.includes(n))).toEqual([fd]);
      // Nothing else was sent: the first generation has no predecessor to remove.
      await expect(l.next(100)).rejects.toThrow(/no notification/);
    });

    it('the memfd is sealed: writing and resizing fail with EPERM, and F_GET_SEALS shows all four seals', async () => {
      const fresh = loadLib(backend);
      const l = await listen();
      setNotifySocket(l.notifySocket);
      expect(fresh.saveState('sealed')).toBe(true);
      const fd = (await nextOwned(l)).fds[0];
      expect(() => fs.writeSync(fd, 'X', 0)).toThrow(expect.objectContaining({ code: 'EPERM' }));
      expect(() => fs.ftruncateSync(fd, 0)).toThrow(expect.objectContaining({ code: 'EPERM' }));
      expect(() => fs.ftruncateSync(fd, 4096)).toThrow(expect.objectContaining({ code: 'EPERM' }));
      expect(sealsOf(fd)).toBe(ALL_SEALS);
      expect(contentOf(fd).toString()).toBe('sealed');
    });

    it('a real peer receives one regular-file fd with the message', async () => {
      const fresh = loadLib(backend);
      setNotifySocket(peer.notifySocket);
      expect(fresh.saveState('to python')).toBe(true);
      const m = await peer.next();
      expect(m.text).toBe('FDSTORE=1\nFDNAME=state.1\nFDPOLL=0');
      expect(m.fds).toHaveLength(1);
      expect(m.fds[0].mode & S_IFMT).toBe(S_IFREG);
    });

    it('a second save stores state.2, then removes state.1', async () => {
      const fresh = loadLib(backend);
      const l = await listen();
      setNotifySocket(l.notifySocket);
      expect(fresh.saveState('first')).toBe(true);
      expect(fresh.saveState('second')).toBe(true);
      const [m1, m2, m3] = [await nextOwned(l), await nextOwned(l), await nextOwned(l)];
      expect(text(m1)).toBe('FDSTORE=1\nFDNAME=state.1\nFDPOLL=0');
      expect(contentOf(m1.fds[0]).toString()).toBe('first');
      expect(text(m2)).toBe('FDSTORE=1\nFDNAME=state.2\nFDPOLL=0');
      expect(contentOf(m2.fds[0]).toString()).toBe('second');
      expect(text(m3)).toBe('FDSTOREREMOVE=1\nFDNAME=state.1');
      expect(m3.fds).toEqual([]);
      await expect(l.next(100)).rejects.toThrow(/no notification/);
    });

    it('a string is saved as its UTF-8 bytes, an empty state as an empty memfd', async () => {
      const fresh = loadLib(backend);
      const l = await listen();
      setNotifySocket(l.notifySocket);
      fresh.saveState('Grüße 🚀');
      const utf8 = await nextOwned(l);
      expect(contentOf(utf8.fds[0]).equals(Buffer.from('Grüße 🚀', 'utf8'))).toBe(true);
      fresh.saveState(new Uint8Array(0));
      const empty = await nextOwned(l);
      expect(text(empty)).toBe('FDSTORE=1\nFDNAME=state.2\nFDPOLL=0');
      expect(fs.fstatSync(empty.fds[0]).size).toBe(0);
    });

    it('a Uint8Array view saves only its own bytes', async () => {
      const fresh = loadLib(backend);
      const l = await listen();
      setNotifySocket(l.notifySocket);
      const backing = Buffer.from('xxxxHELLOyyyy');
      fresh.saveState(new Uint8Array(backing.buffer, backing.byteOffset + 4, 5));
      expect(contentOf((await nextOwned(l)).fds[0]).toString()).toBe('HELLO');
    });

    it('options.name names the generations, each name counting on its own', async () => {
      const fresh = loadLib(backend);
      const l = await listen();
      setNotifySocket(l.notifySocket);
      fresh.saveState('a', { name: 'cache' });
      fresh.saveState('b', { name: 'sessions' });
      fresh.saveState('c', { name: 'cache' });
      const texts: string[] = [];
      for (let i = 0; i < 4; i++) texts.push(text(await nextOwned(l)));
      expect(texts).toEqual([
        'FDSTORE=1\nFDNAME=cache.1\nFDPOLL=0',
        'FDSTORE=1\nFDNAME=sessions.1\nFDPOLL=0',
        'FDSTORE=1\nFDNAME=cache.2\nFDPOLL=0',
        'FDSTOREREMOVE=1\nFDNAME=cache.1',
      ]);
    });

    it('returns false and sends nothing when the process is not supervised', async () => {
      const fresh = loadLib(backend);
      setNotifySocket(undefined);
      expect(fresh.saveState('lost')).toBe(false);
      await peer.expectNothing(60);
    });

    it('a failed save throws SdNotifyError, keeps no memfd open and uses up no generation', async () => {
      const fresh = loadLib(backend);
      const stale = uniqueSocketPath('sdn-stale');
      makeStaleSocket(stale);
      cleanups.push(() => fs.rmSync(stale, { force: true }));
      const memfdsBefore = memfdsOpen();
      const fdsBefore = openFds();
      setNotifySocket(stale);
      expect(() => fresh.saveState('refused')).toThrow(
        expect.objectContaining({ name: 'SdNotifyError', code: 'ECONNREFUSED' }),
      );
      expect(memfdsOpen()).toEqual(memfdsBefore);
      expect(openFds()).toBe(fdsBefore);
      setNotifySocket(peer.notifySocket);
      expect(fresh.saveState('accepted')).toBe(true);
      expect((await peer.next()).text).toBe('FDSTORE=1\nFDNAME=state.1\nFDPOLL=0');
      await peer.expectNothing(60);
    });
  });

  describe('restoreState', () => {
    /** Memfds made by saveState (in a throwaway lib instance), as a listener received them. */
    const savedMemfds = async (contents: string[], name = 'state'): Promise<number[]> => {
      const maker = loadLib(backend);
      const l = await listen();
      setNotifySocket(l.notifySocket);
      const fds: number[] = [];
      for (const c of contents) {
        maker.saveState(c, { name });
        for (;;) {
          const m = await nextOwned(l);
          if (m.fds.length > 0) {
            fds.push(m.fds[0]);
            break;
          }
        }
      }
      setNotifySocket(undefined);
      return fds;
    };

    it("returns the newest generation's bytes, whatever the order of the fds", async () => {
      const [f1, f2, f3] = await savedMemfds(['one', 'two', 'three']);
      const fresh = loadLib(backend);
      const got = fresh.restoreState({
        fds: [
          { fd: f2, name: 'state.2' },
          { fd: f3, name: 'state.3' },
          { fd: f1, name: 'state.1' },
        ],
      });
      expect(Buffer.isBuffer(got)).toBe(true);
      expect(got!.toString()).toBe('three');
    });

    it('generations compare as numbers: state.10 is newer than state.9', async () => {
      const [older, newer] = await savedMemfds(['nine', 'ten']);
      const fresh = loadLib(backend);
      const got = fresh.restoreState({
        fds: [
          { fd: older, name: 'state.9' },
          { fd: newer, name: 'state.10' },
        ],
      });
      expect(got?.toString()).toBe('ten');
    });

    it('reads from offset 0 even when the fd was read before', async () => {
      const [fd] = await savedMemfds(['read me whole']);
      fs.readSync(fd, Buffer.alloc(5)); // moves the shared file offset
      const fresh = loadLib(backend);
      expect(fresh.restoreState({ fds: [{ fd: fd, name: 'state.1' }] })?.toString()).toBe(
        'read me whole',
      );
    });

    it('ignores fds of other names and returns undefined when none matches', async () => {
      const [fd] = await savedMemfds(['not mine']);
      const fresh = loadLib(backend);
      const others = ['state', 'state.', 'state.x', 'state.1.2', 'states.1', 'xstate.1', 'other.1'];
      expect(fresh.restoreState({ fds: others.map((name) => ({ fd: fd, name })) })).toBeUndefined();
      expect(fresh.restoreState({ fds: [] })).toBeUndefined();
    });

    it('options.name picks that name among the listen fds', async () => {
      const [a, b] = await savedMemfds(['mine', 'theirs'], 'cache');
      const fresh = loadLib(backend);
      const fds = [
        { fd: a, name: 'cache.1' },
        { fd: b, name: 'state.7' },
      ];
      expect(fresh.restoreState({ name: 'cache', fds })?.toString()).toBe('mine');
      expect(fresh.restoreState({ fds })?.toString()).toBe('theirs');
    });

    it('without fds and without LISTEN_* in the environment there is nothing to restore', () => {
      const fresh = loadLib(backend);
      expect(process.env.LISTEN_PID).toBeUndefined();
      expect(fresh.restoreState()).toBeUndefined();
    });

    it('the next save continues after the newest restored generation and removes every restored one', async () => {
      const [f1, f2, f3] = await savedMemfds(['one', 'two', 'three']);
      const fresh = loadLib(backend);
      fresh.restoreState({
        fds: [
          { fd: f1, name: 'state.1' },
          { fd: f2, name: 'state.2' },
          { fd: f3, name: 'state.3' },
        ],
      });
      const l = await listen();
      setNotifySocket(l.notifySocket);
      expect(fresh.saveState('four')).toBe(true);
      const stored = await nextOwned(l);
      expect(text(stored)).toBe('FDSTORE=1\nFDNAME=state.4\nFDPOLL=0');
      expect(contentOf(stored.fds[0]).toString()).toBe('four');
      const removed: string[] = [];
      for (let i = 0; i < 3; i++) removed.push(text(await nextOwned(l)));
      expect(removed.sort()).toEqual([
        'FDSTOREREMOVE=1\nFDNAME=state.1',
        'FDSTOREREMOVE=1\nFDNAME=state.2',
        'FDSTOREREMOVE=1\nFDNAME=state.3',
      ]);
      await expect(l.next(100)).rejects.toThrow(/no notification/);
      // The one after removes only its predecessor.
      fresh.saveState('five');
      expect(text(await nextOwned(l))).toBe('FDSTORE=1\nFDNAME=state.5\nFDPOLL=0');
      expect(text(await nextOwned(l))).toBe('FDSTOREREMOVE=1\nFDNAME=state.4');
    });
  });

  describe('fdStoreStatus', () => {
    it.each<[string | undefined, string]>([
      [undefined, 'unknown'],
      ['0', 'disabled'],
      ['5', 'enabled'],
      ['1', 'enabled'],
      ['4096', 'enabled'],
    ])('FDSTORE=%s is %s, without a warning', (value, expected) => {
      const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
      const log = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
      try {
        setEnv('FDSTORE', value);
        expect(lib.fdStoreStatus()).toBe(expected);
        expect(warn).not.toHaveBeenCalled();
        expect(log).not.toHaveBeenCalled();
      } finally {
        warn.mockRestore();
        log.mockRestore();
      }
    });
  });

  it(`every fd store message goes through the ${backend} backend`, async () => {
    const fresh = loadLib(backend);
    const routes = countRoutes();
    try {
      setNotifySocket(peer.notifySocket);
      fresh.storeFd(files.fds[0], { name: 'route' });
      fresh.removeFds('route');
      fresh.saveState('1');
      fresh.saveState('2');
      await peer.take(5);
      expect(routes[backend]).toBe(5);
      expect(routes[backend === 'builtin' ? 'libsystemd' : 'builtin']).toBe(0);
    } finally {
      routes.restore();
    }
  });

  it('2,000 storeFd and 1,000 saveState calls leave /proc/self/fd as it was', async () => {
    const fresh = loadLib(backend);
    const l = await listen();
    setNotifySocket(l.notifySocket);
    const server = await listenTcp();
    const { client, accepted } = await connectTo(server);
    const udp = await bindUdp();
    const handle = await fs.promises.open(__filename, 'r');
    cleanups.push(
      () => server.close(),
      () => client.destroy(),
      () => accepted.destroy(),
      () => udp.close(),
      () => handle.close(),
    );
    const targets: StorableTarget[] = [files.fds[0], server, client, udp, handle];
    /** Reads `n` messages and closes every fd that came with them. */
    const consume = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const m = await l.next(2000);
        for (const fd of m.fds) fs.closeSync(l.take(fd));
      }
    };
    // Warm up: one of each, so lazily created state is not counted.
    fresh.storeFd(targets[0], { name: 'warm' });
    fresh.saveState('warm', { name: 'leak' });
    await consume(2);

    const list = () => fs.readdirSync('/proc/self/fd').sort();
    const before = list();
    for (let i = 0; i < 2000; i += WINDOW) {
      for (let j = i; j < i + WINDOW; j++) {
        fresh.storeFd(targets[j % targets.length], { name: `leak-${j % 7}`, poll: j % 2 === 0 });
      }
      await consume(WINDOW);
    }
    for (let i = 0; i < 1000; i += WINDOW / 2) {
      for (let j = i; j < i + WINDOW / 2; j++) fresh.saveState(`generation ${j}`, { name: 'leak' });
      await consume(WINDOW); // each save after the first: the store and the removal
    }
    await expect(l.next(50)).rejects.toThrow(/no notification/);
    expect(list()).toEqual(before);
    expect(openFds()).toBe(before.length);
  });
}
