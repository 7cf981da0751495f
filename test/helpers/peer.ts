/**
 * A real notify-socket peer that is not our code: test/helpers/peer.py in a python3 child.
 *
 * Tests send through sdnotify (or libsystemd) and read here what the kernel delivered: the bytes,
 * the sender's credentials and the identity of each file descriptor.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

import { killOnExit } from './env';

export interface FdIdentity {
  dev: number;
  ino: number;
  mode: number;
}

export interface ReceivedMessage {
  data: Buffer;
  /** `data` decoded as UTF-8. */
  text: string;
  pid: number;
  uid: number;
  gid: number;
  fds: FdIdentity[];
  /** The datagram did not fit the peer's buffer (MSG_TRUNC). */
  truncated: boolean;
  /** The ancillary data did not fit (MSG_CTRUNC): some fds or credentials were dropped. */
  ctruncated: boolean;
}

export interface PeerOptions {
  /** Bind in the abstract namespace (NOTIFY_SOCKET=@name) instead of a path. */
  abstract?: boolean;
  type?: 'dgram' | 'stream' | 'seqpacket';
  /** Bind but do not read until resume(): lets a sender fill the queue. */
  paused?: boolean;
  rcvbuf?: number;
}

const PEER_SCRIPT = path.join(__dirname, 'peer.py');
let counter = 0;

/** A name unique to this process and call, short enough for sun_path (108 bytes). */
export function uniqueName(prefix = 'sdn'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${randomBytes(4).toString('hex')}`;
}

/** A fresh socket path under os.tmpdir() that does not exist yet. */
export function uniqueSocketPath(prefix = 'sdn'): string {
  return path.join(os.tmpdir(), `${uniqueName(prefix)}.sock`);
}

/**
 * Leaves a datagram socket file at `socketPath` whose owner has exited: sending to it is
 * ECONNREFUSED, like a stale NOTIFY_SOCKET after the manager restarted.
 */
export function makeStaleSocket(socketPath: string): void {
  const r = spawnSync(
    'python3',
    [
      '-c',
      'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])',
      socketPath,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0)
    throw new Error(`could not create a stale socket at ${socketPath}: ${r.stderr}`);
}

export class PythonPeer {
  /** The value to put in NOTIFY_SOCKET: '/tmp/…' or '@name'. */
  readonly notifySocket: string;
  /** The socket's path, for a path socket. */
  readonly path?: string;
  /** The python process's pid. */
  readonly pid: number;
  /** SO_RCVBUF as the kernel reports it. */
  readonly rcvbuf: number;

  private readonly child: ChildProcess;
  private readonly queue: ReceivedMessage[] = [];
  private waiters: Array<{ resolve: (m: ReceivedMessage) => void; reject: (e: Error) => void }> =
    [];
  private countWaiters: Array<{ n: number; resolve: () => void }> = [];
  private exited: Error | undefined;
  private stderr = '';
  private received = 0;

  private constructor(
    child: ChildProcess,
    ready: { address: string; rcvbuf: number },
    socketPath: string | undefined,
  ) {
    this.child = child;
    this.notifySocket = ready.address;
    this.rcvbuf = ready.rcvbuf;
    this.pid = child.pid!;
    if (socketPath !== undefined) this.path = socketPath;
  }

  static start(opts: PeerOptions = {}): Promise<PythonPeer> {
    const args = [PEER_SCRIPT, '--type', opts.type ?? 'dgram'];
    let socketPath: string | undefined;
    if (opts.abstract) {
      args.push('--abstract', uniqueName('sdn-abstract'));
    } else {
      socketPath = uniqueSocketPath();
      args.push('--path', socketPath);
    }
    if (opts.paused) args.push('--paused');
    if (opts.rcvbuf !== undefined) args.push('--rcvbuf', String(opts.rcvbuf));

    const child = spawn('python3', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    // A forgotten peer must not keep the test process alive; the exit hook above kills it.
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr])
      (s as unknown as { unref?: () => void }).unref?.();
    killOnExit(child, () => socketPath !== undefined && fs.rmSync(socketPath, { force: true }));

    return new Promise<PythonPeer>((resolve, reject) => {
      let peer: PythonPeer | undefined;
      let stderr = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (s: string) => {
        if (peer) peer.stderr += s;
        else stderr += s;
      });
      child.once('error', (err) => {
        if (!peer) reject(err);
      });
      child.once('exit', (code, signal) => {
        if (!peer) {
          reject(
            new Error(
              `python peer exited before binding (code ${code}, signal ${signal}): ${stderr}`,
            ),
          );
          return;
        }
        peer.onExit(code, signal);
      });
      const lines = createInterface({ input: child.stdout });
      lines.on('line', (line) => {
        const msg = JSON.parse(line) as Record<string, unknown>;
        if (!peer) {
          if (msg.ready !== true) {
            reject(new Error(`python peer: unexpected first line ${line}`));
            return;
          }
          peer = new PythonPeer(
            child,
            msg as unknown as { address: string; rcvbuf: number },
            socketPath,
          );
          peer.stderr = stderr;
          resolve(peer);
          return;
        }
        peer.onMessage(msg);
      });
    });
  }

  /** How many messages have arrived so far (taken or not). */
  get receivedCount(): number {
    return this.received;
  }

  /** Messages that arrived and were not taken with next() yet. */
  get pending(): number {
    return this.queue.length;
  }

  /** The next message; rejects after `timeoutMs` if none arrives. */
  next(timeoutMs = 2000): Promise<ReceivedMessage> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.exited) return Promise.reject(this.exited);
    return new Promise<ReceivedMessage>((resolve, reject) => {
      const waiter = {
        resolve: (m: ReceivedMessage) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no message arrived at ${this.notifySocket} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Takes exactly `n` messages, in order. */
  async take(n: number, timeoutMs = 2000): Promise<ReceivedMessage[]> {
    const out: ReceivedMessage[] = [];
    for (let i = 0; i < n; i++) out.push(await this.next(timeoutMs));
    return out;
  }

  /**
   * Waits until `n` messages have arrived in all (taken or not), then forgets the untaken ones:
   * flow control for senders that send thousands of messages and only care that they arrived.
   */
  async waitForCount(n: number, timeoutMs = 5000): Promise<void> {
    if (this.received < n) {
      if (this.exited) throw this.exited;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.countWaiters = this.countWaiters.filter((w) => w !== waiter);
          reject(
            new Error(
              `only ${this.received} of ${n} messages arrived at ${this.notifySocket} within ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs);
        const waiter = {
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
        this.countWaiters.push(waiter);
      });
    }
    this.queue.length = 0;
  }

  /** Resolves after `ms` if nothing arrived (and nothing was left unread); rejects otherwise. */
  async expectNothing(ms = 200): Promise<void> {
    const before = this.received;
    await new Promise((r) => setTimeout(r, ms));
    if (this.received !== before || this.queue.length > 0) {
      const m = this.queue[0];
      throw new Error(
        `expected nothing at ${this.notifySocket}, but ${this.received - before} message(s) arrived` +
          (m ? `, e.g. ${JSON.stringify(m.text)}` : ''),
      );
    }
  }

  /** Forgets the messages not taken yet (e.g. after a failed test) and says how many there were. */
  drain(): number {
    const n = this.queue.length;
    this.queue.length = 0;
    return n;
  }

  /** A paused peer starts reading. */
  resume(): void {
    this.child.stdin!.write('resume\n');
  }

  /** Ends the peer (it unlinks its path) and waits for it to exit. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }

  private onMessage(raw: Record<string, unknown>): void {
    const data = Buffer.from(raw.data as string, 'base64');
    const msg: ReceivedMessage = {
      data,
      text: data.toString('utf8'),
      pid: raw.pid as number,
      uid: raw.uid as number,
      gid: raw.gid as number,
      fds: raw.fds as FdIdentity[],
      truncated: raw.truncated as boolean,
      ctruncated: raw.ctruncated as boolean,
    };
    this.received += 1;
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(msg);
    else this.queue.push(msg);
    if (this.countWaiters.length > 0) {
      const done = this.countWaiters.filter((w) => this.received >= w.n);
      this.countWaiters = this.countWaiters.filter((w) => this.received < w.n);
      for (const w of done) w.resolve();
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exited = new Error(
      `python peer ${this.notifySocket} exited (code ${code}, signal ${signal}) ${this.stderr}`,
    );
    for (const w of this.waiters) w.reject(this.exited);
    this.waiters = [];
  }
}
