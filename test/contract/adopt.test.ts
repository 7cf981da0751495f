/**
 * Adopting what systemd hands back: fdInfo names what an fd is, the adopt helpers turn fds 3.. of
 * a freshly started process (test/helpers/listen-child.ts: the fds really are 3.., LISTEN_PID is
 * the child's own pid) into a serving net.Server, net.Socket, dgram.Socket or file contents, and
 * clients of the old process reach the new one: TCP by port, UNIX by path.
 *
 * The UNIX trap (DESIGN §3): libuv unlinks a UNIX socket's path when the server that bound it
 * closes, so a listener kept in the fd store survives while its path does not. listenUnix binds
 * natively, so closing it leaves the path; the control case shows the trap is real.
 */
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';

import * as sdnotify from '../../lib';
import { loadNative, type NativeBinding } from '../../lib/backend/native';
import { NotifyListener } from '../../lib/testing';
import { openDevNull, openTempFiles } from '../helpers/fds';
import { LiveChild } from '../helpers/listen-child';
import { uniqueSocketPath } from '../helpers/peer';
import { fdsOfSocketInode, inetSocketInode, unixListenerInode } from '../helpers/sockets';

/** The one fd of ours that holds this socket inode. */
function onlyFdOf(ino: number): number {
  const fds = fdsOfSocketInode(ino);
  if (fds.length !== 1) throw new Error(`expected one fd for socket:[${ino}], found ${fds.length}`);
  return fds[0];
}

function listening(server: net.Server, ...args: unknown[]): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    (server.listen as (...a: unknown[]) => void)(...args, () => resolve(server));
  });
}

const closed = (server: net.Server) => new Promise<void>((r) => server.close(() => r()));

function connected(opts: net.NetConnectOpts): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(opts, () => resolve(s));
    s.once('error', reject);
  });
}

/** Connects, reads until the other side ends, and returns what it said. */
function ask(opts: net.NetConnectOpts): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const s = net.connect(opts);
    s.setEncoding('utf8');
    s.on('data', (d: string) => (got += d));
    s.once('end', () => resolve(got));
    s.once('error', reject);
  });
}

function bindUdp(): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', reject);
    socket.bind({ address: '127.0.0.1', port: 0 }, () => resolve(socket));
  });
}

/** The fd behind a listening TCP server, found from its port (not from Node's handle). */
const tcpListenerFd = (server: net.Server) =>
  onlyFdOf(inetSocketInode('tcp', (server.address() as net.AddressInfo).port, 'listen'));

/**
 * Child code: adopt every listen fd with adopt(), say what came out, and serve: servers answer
 * each connection with `<name> <pid>` and end it, UDP echoes `<name> <pid>: <message>`, a
 * connected socket is greeted with `<name> <pid>`. Ends when its stdin closes.
 */
const SERVE_ALL = `
const net = require('node:net');
const dgram = require('node:dgram');
const fds = sdnotify.listenFds();
const adopted = fds.map((l) => {
  const info = sdnotify.fdInfo(l.fd);
  const obj = sdnotify.adopt(l);
  const hello = l.name + ' ' + process.pid;
  let what;
  if (Buffer.isBuffer(obj)) what = { type: 'Buffer', content: obj.toString() };
  else if (obj instanceof net.Server) {
    obj.on('connection', (c) => c.end(hello));
    what = { type: 'Server', address: obj.address() };
  } else if (obj instanceof net.Socket) {
    obj.write(hello);
    what = { type: 'Socket' };
  } else if (obj instanceof dgram.Socket) {
    obj.on('message', (msg, rinfo) => obj.send(hello + ': ' + msg, rinfo.port, rinfo.address));
    what = { type: 'dgram.Socket' };
  }
  return { name: l.name, fd: l.fd, info, ...what, obj };
});
out({ pid: process.pid, adopted: adopted.map(({ obj, ...rest }) => rest) });
process.stdin.on('end', () => {
  for (const { obj } of adopted) if (obj && typeof obj.close === 'function') obj.close(); else if (obj && obj.destroy) obj.destroy();
  setTimeout(() => process.exit(0), 20);
});
process.stdin.resume();
`;

describe('fdInfo names what an fd is', () => {
  let native: NativeBinding;
  /** Run in order: a server closes only once its connections are gone. */
  const cleanups: Array<() => unknown> = [];
  let tcp: net.Server;
  let client: net.Socket;
  let unixServer: net.Server;
  let unixPath: string;
  let udp: dgram.Socket;
  let files: ReturnType<typeof openTempFiles>;

  beforeAll(async () => {
    const loaded = loadNative();
    if (!loaded.ok) throw loaded.error;
    native = loaded.binding;
    tcp = await listening(net.createServer(), { host: '127.0.0.1', port: 0 });
    client = await connected({ host: '127.0.0.1', port: (tcp.address() as net.AddressInfo).port });
    unixPath = uniqueSocketPath('sdn-fdinfo');
    unixServer = sdnotify.listenUnix(unixPath);
    udp = await bindUdp();
    files = openTempFiles(1);
    fs.writeSync(files.fds[0], 'twelve bytes');
    cleanups.push(
      () => client.destroy(),
      () => closed(tcp),
      () => closed(unixServer),
      () => fs.rmSync(unixPath, { force: true }),
      () => udp.close(),
      () => files.close(),
    );
  });

  afterAll(async () => {
    for (const c of cleanups) {
      try {
        await c();
      } catch {
        /* keep tearing down */
      }
    }
  });

  const fdOf = {
    tcpListener: () => tcpListenerFd(tcp),
    tcpConnected: () => onlyFdOf(inetSocketInode('tcp', client.localPort!, 'established')),
    unixListener: () => onlyFdOf(unixListenerInode(unixPath)),
    udp: () => onlyFdOf(inetSocketInode('udp', udp.address().port)),
  };

  it('a listening TCP socket is a listening inet stream socket', () => {
    expect(sdnotify.fdInfo(fdOf.tcpListener())).toEqual({
      kind: 'socket',
      socketType: 'stream',
      family: 'inet',
      listening: true,
    });
  });

  it('a connected TCP socket is an inet stream socket, not listening', () => {
    expect(sdnotify.fdInfo(fdOf.tcpConnected())).toEqual({
      kind: 'socket',
      socketType: 'stream',
      family: 'inet',
      listening: false,
    });
  });

  it('a UNIX listener from listenUnix is a listening unix stream socket', () => {
    expect(sdnotify.fdInfo(fdOf.unixListener())).toEqual({
      kind: 'socket',
      socketType: 'stream',
      family: 'unix',
      listening: true,
    });
  });

  it('a bound UDP socket is an inet dgram socket, not listening', () => {
    const info = sdnotify.fdInfo(fdOf.udp());
    expect(info).toMatchObject({ kind: 'socket', socketType: 'dgram', family: 'inet' });
    expect(info.listening).toBeFalsy();
  });

  it('a regular file is a file, with its size', () => {
    expect(sdnotify.fdInfo(files.fds[0])).toEqual({ kind: 'file', size: 12 });
  });

  it('a sealed memfd is a file, with its size', () => {
    const fd = native.memfdSealed(Buffer.from('fdinfo-test'), Buffer.from('state bytes'));
    expect(fd).toBeGreaterThanOrEqual(0);
    try {
      expect(sdnotify.fdInfo(fd)).toEqual({ kind: 'file', size: 11 });
      expect(sdnotify.readFdContents(fd).toString()).toBe('state bytes');
    } finally {
      native.closeFd(fd);
    }
  });

  it('either end of a pipe is a fifo', () => {
    const ends = native.pipeCloexec();
    if (typeof ends === 'number') throw new Error(`pipe2 failed: ${ends}`);
    try {
      expect(sdnotify.fdInfo(ends[0])).toEqual({ kind: 'fifo' });
      expect(sdnotify.fdInfo(ends[1])).toEqual({ kind: 'fifo' });
    } finally {
      native.closeFd(ends[0]);
      native.closeFd(ends[1]);
    }
  });

  it('a character device is other', () => {
    const fd = openDevNull();
    try {
      expect(sdnotify.fdInfo(fd)).toEqual({ kind: 'other' });
    } finally {
      fs.closeSync(fd);
    }
  });

  describe('an adopt helper given the wrong kind of fd throws TypeError naming what it is', () => {
    it('adoptServer of a connected TCP socket', () => {
      expect(() => sdnotify.adoptServer(fdOf.tcpConnected())).toThrow(TypeError);
      expect(() => sdnotify.adoptServer(fdOf.tcpConnected())).toThrow(/inet stream socket/);
    });

    it('adoptServer of a UDP socket', () => {
      expect(() => sdnotify.adoptServer(fdOf.udp())).toThrow(TypeError);
      expect(() => sdnotify.adoptServer(fdOf.udp())).toThrow(/inet dgram socket/);
    });

    it('adoptServer of a file (given as a ListenFd)', () => {
      const l = { fd: files.fds[0], name: 'oops' };
      expect(() => sdnotify.adoptServer(l)).toThrow(TypeError);
      expect(() => sdnotify.adoptServer(l)).toThrow(/file/);
    });

    it('adoptServer of a pipe', () => {
      const ends = native.pipeCloexec() as Int32Array;
      try {
        expect(() => sdnotify.adoptServer(ends[0])).toThrow(TypeError);
        expect(() => sdnotify.adoptServer(ends[0])).toThrow(/fifo/);
      } finally {
        native.closeFd(ends[0]);
        native.closeFd(ends[1]);
      }
    });

    it('adoptSocket of a listening socket', () => {
      expect(() => sdnotify.adoptSocket(fdOf.tcpListener())).toThrow(TypeError);
      expect(() => sdnotify.adoptSocket(fdOf.tcpListener())).toThrow(/listening/);
    });

    it('adoptDgram of a UNIX stream listener', () => {
      expect(() => sdnotify.adoptDgram(fdOf.unixListener())).toThrow(TypeError);
      expect(() => sdnotify.adoptDgram(fdOf.unixListener())).toThrow(/unix stream socket/);
    });

    it('readFdContents of a socket', () => {
      expect(() => sdnotify.readFdContents(fdOf.udp())).toThrow(TypeError);
      expect(() => sdnotify.readFdContents(fdOf.udp())).toThrow(/dgram socket/);
    });

    it.each<[string, unknown]>([
      ['a string', '3'],
      ['a negative number', -1],
      ['a fraction', 3.5],
      ['null', null],
      ['an object without fd', { name: 'x' }],
    ])('adoptServer(%s) is a TypeError', (_what, bad) => {
      expect(() => sdnotify.adoptServer(bad as never)).toThrow(TypeError);
      expect(() => sdnotify.fdInfo(bad as never)).toThrow(TypeError);
    });
  });
});

describe('a new process adopts the fds it is handed and serves on them', () => {
  const children: LiveChild[] = [];
  const cleanups: Array<() => unknown> = [];

  const start = (code: string, fds: number[], names: string[]) => {
    const c = new LiveChild('node', code, {
      fds,
      env: { LISTEN_FDS: String(fds.length), LISTEN_FDNAMES: names.join(':') },
    });
    children.push(c);
    return c;
  };

  afterAll(async () => {
    await Promise.all(children.map((c) => c.stop()));
    for (const c of cleanups) {
      try {
        await c();
      } catch {
        /* keep tearing down */
      }
    }
  });

  it('a listening TCP socket passed as fd 3 is adopted and answers on its port once ours is closed', async () => {
    const server = await listening(net.createServer(), { host: '127.0.0.1', port: 0 });
    const { port } = server.address() as net.AddressInfo;
    const child = start(SERVE_ALL, [tcpListenerFd(server)], ['http']);
    const hello = await child.next<{ pid: number; adopted: unknown[] }>();
    await closed(server); // from now on only the child accepts
    expect(hello.adopted).toEqual([
      {
        name: 'http',
        fd: 3,
        info: { kind: 'socket', socketType: 'stream', family: 'inet', listening: true },
        type: 'Server',
        address: { address: '127.0.0.1', family: 'IPv4', port },
      },
    ]);
    expect(await ask({ host: '127.0.0.1', port })).toBe(`http ${hello.pid}`);
    expect(await ask({ host: '127.0.0.1', port })).toBe(`http ${hello.pid}`);
    expect(await child.stop()).toBe(0);
  });

  it('a UNIX listener kept in the fd store is adopted by the next process and reached by its path', async () => {
    const sockPath = uniqueSocketPath('sdn-adopt');
    cleanups.push(() => fs.rmSync(sockPath, { force: true }));
    const manager = await NotifyListener.create();
    cleanups.push(() => manager.close());
    // The old process: listens, stores the listener, closes its own server and goes away.
    const old = sdnotify.listenUnix(sockPath);
    expect(sdnotify.storeFd(old, { name: 'api', socket: manager.notifySocket })).toBe(true);
    const stored = await manager.next();
    expect(stored.raw.toString()).toBe('FDSTORE=1\nFDNAME=api');
    expect(stored.fds).toHaveLength(1);
    await closed(old);
    expect(fs.lstatSync(sockPath).isSocket()).toBe(true);
    // The new process gets the stored fd back as fd 3.
    const child = start(SERVE_ALL, [stored.fds[0]], ['api']);
    const hello = await child.next<{ pid: number; adopted: Array<Record<string, unknown>> }>();
    expect(hello.adopted[0]).toMatchObject({
      name: 'api',
      fd: 3,
      info: { kind: 'socket', socketType: 'stream', family: 'unix', listening: true },
      type: 'Server',
    });
    expect(await ask({ path: sockPath })).toBe(`api ${hello.pid}`);
    // An adopted server does not unlink the path when it closes either.
    expect(await child.stop()).toBe(0);
    expect(fs.lstatSync(sockPath).isSocket()).toBe(true);
  });

  it('control: a UNIX listener from net.Server.listen(path) loses its path when closed, though the next process holds it', async () => {
    const sockPath = uniqueSocketPath('sdn-trap');
    cleanups.push(() => fs.rmSync(sockPath, { force: true }));
    const old = await listening(net.createServer(), sockPath);
    const child = start(SERVE_ALL, [onlyFdOf(unixListenerInode(sockPath))], ['api']);
    const hello = await child.next<{ pid: number; adopted: Array<Record<string, unknown>> }>();
    expect(hello.adopted[0]).toMatchObject({ type: 'Server', info: { listening: true } });
    await closed(old);
    expect(fs.existsSync(sockPath)).toBe(false);
    await expect(ask({ path: sockPath })).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await child.stop()).toBe(0);
  });

  it('listenUnix leaves its path when closed; net.Server.listen(path) removes it', async () => {
    const kept = uniqueSocketPath('sdn-kept');
    const removed = uniqueSocketPath('sdn-removed');
    cleanups.push(() => fs.rmSync(kept, { force: true }));
    await closed(sdnotify.listenUnix(kept));
    await closed(await listening(net.createServer(), removed));
    expect(fs.lstatSync(kept).isSocket()).toBe(true);
    expect(fs.existsSync(removed)).toBe(false);
  });

  it('adopt() turns each kind of fd into the right thing: TCP and UNIX servers, a UDP socket, a connected socket, state', async () => {
    const tcp = await listening(net.createServer(), { host: '127.0.0.1', port: 0 });
    const { port } = tcp.address() as net.AddressInfo;
    const sockPath = uniqueSocketPath('sdn-all');
    cleanups.push(() => fs.rmSync(sockPath, { force: true }));
    const unix = sdnotify.listenUnix(sockPath);
    const udp = await bindUdp();
    const udpPort = udp.address().port;
    // A connection whose far end (accepted here) the child will talk on.
    const peerServer = await listening(net.createServer(), { host: '127.0.0.1', port: 0 });
    const accepted = new Promise<net.Socket>((r) => peerServer.once('connection', r));
    const conn = await connected({
      host: '127.0.0.1',
      port: (peerServer.address() as net.AddressInfo).port,
    });
    const far = await accepted;
    const native = loadNative();
    if (!native.ok) throw native.error;
    const memfd = native.binding.memfdSealed(Buffer.from('state'), Buffer.from('{"n":42}'));
    cleanups.push(() => native.binding.closeFd(memfd));

    const fds = [
      tcpListenerFd(tcp),
      onlyFdOf(unixListenerInode(sockPath)),
      onlyFdOf(inetSocketInode('udp', udpPort)),
      onlyFdOf(inetSocketInode('tcp', conn.localPort!, 'established')),
      memfd,
    ];
    const child = start(SERVE_ALL, fds, ['web', 'api', 'dns', 'conn', 'state.3']);
    const greeting = new Promise<string>((r) => far.once('data', (d) => r(d.toString())));
    const hello = await child.next<{ pid: number; adopted: Array<Record<string, unknown>> }>();
    // Ours are closed: the child's are the only ones left.
    conn.destroy();
    await Promise.all([closed(tcp), closed(unix), new Promise<void>((r) => udp.close(r))]);
    cleanups.push(
      () => far.destroy(),
      () => closed(peerServer),
    );

    expect(hello.adopted.map(({ name, fd, type }) => ({ name, fd, type }))).toEqual([
      { name: 'web', fd: 3, type: 'Server' },
      { name: 'api', fd: 4, type: 'Server' },
      { name: 'dns', fd: 5, type: 'dgram.Socket' },
      { name: 'conn', fd: 6, type: 'Socket' },
      { name: 'state.3', fd: 7, type: 'Buffer' },
    ]);
    expect(hello.adopted.map((a) => a.info)).toEqual([
      { kind: 'socket', socketType: 'stream', family: 'inet', listening: true },
      { kind: 'socket', socketType: 'stream', family: 'unix', listening: true },
      expect.objectContaining({ kind: 'socket', socketType: 'dgram', family: 'inet' }),
      { kind: 'socket', socketType: 'stream', family: 'inet', listening: false },
      { kind: 'file', size: 8 },
    ]);
    expect(hello.adopted[4]).toMatchObject({ content: '{"n":42}' });

    expect(await ask({ host: '127.0.0.1', port })).toBe(`web ${hello.pid}`);
    expect(await ask({ path: sockPath })).toBe(`api ${hello.pid}`);
    expect(await greeting).toBe(`conn ${hello.pid}`);
    const client = dgram.createSocket('udp4');
    const reply = new Promise<string>((r) => client.once('message', (m) => r(m.toString())));
    client.send('ping', udpPort, '127.0.0.1');
    expect(await reply).toBe(`dns ${hello.pid}: ping`);
    client.close();
    expect(await child.stop()).toBe(0);
  });

  it('restoreState() in the new process reads the newest state generation among its listen fds', async () => {
    const native = loadNative();
    if (!native.ok) throw native.error;
    const older = native.binding.memfdSealed(Buffer.from('state'), Buffer.from('old'));
    const newer = native.binding.memfdSealed(Buffer.from('state'), Buffer.from('new'));
    cleanups.push(
      () => native.binding.closeFd(older),
      () => native.binding.closeFd(newer),
    );
    const child = start(
      `out({ state: sdnotify.restoreState()?.toString() ?? null, fds: sdnotify.listenFds() });
       process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`,
      [older, newer],
      ['state.9', 'state.10'],
    );
    expect(await child.next()).toEqual({
      state: 'new',
      fds: [
        { fd: 3, name: 'state.9' },
        { fd: 4, name: 'state.10' },
      ],
    });
    expect(await child.stop()).toBe(0);
  });
});
