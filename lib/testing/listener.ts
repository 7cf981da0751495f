// The manager's side of the protocol, for tests and demos on a machine without systemd: a real
// AF_UNIX datagram socket that receives each message with its sender's credentials and fds.
import { EventEmitter, once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { parseNotifySocket } from '../address';
import { requireNative, type NativeBinding } from '../backend/native';
import { transportError } from '../errors';

/** One notification as the manager would see it. */
export interface ReceivedNotification {
  /** The datagram's bytes. */
  raw: Buffer;
  /** `KEY=VALUE` lines in order (a repeated key appears twice). */
  assignments: { key: string; value: string }[];
  /** Last value of each key (systemd itself keeps the first of a repeated STATUS=, MAINPID=, …). */
  fields: Record<string, string>;
  /** The sender's pid as the kernel reported it (SO_PASSCRED): whom the manager attributes it to. */
  pid: number;
  /** The sender's uid (SO_PASSCRED). */
  uid: number;
  /** The sender's gid (SO_PASSCRED). */
  gid: number;
  /** File descriptors that came with it; yours to close (the listener closes them on `close()` unless taken). */
  fds: number[];
  /** The message was longer than the 4096 bytes the manager reads. */
  truncated: boolean;
  receivedAt: Date;
}

/** Options of {@link NotifyListener.create}. */
export interface NotifyListenerOptions {
  /** A socket path; default a fresh temp directory's `notify.sock`. */
  path?: string;
  /** An abstract name instead of a path (without the leading "@"). */
  abstract?: string;
  /** How often queued messages are drained, in ms (default 5). */
  pollIntervalMs?: number;
}

/**
 * Binds a notify socket and receives what services send to it. Acknowledges `BARRIER=1` the way
 * systemd does, by closing the fd that came with it.
 *
 * @example
 * const listener = await NotifyListener.create();
 * spawn('node', ['service.js'], { env: { ...process.env, ...listener.env } });
 * const msg = await listener.next();
 */
export class NotifyListener extends EventEmitter<{
  message: [ReceivedNotification];
  error: [Error];
}> {
  /** The value to hand a child as `NOTIFY_SOCKET`. */
  readonly notifySocket: string;
  private readonly binding: NativeBinding;
  private fd: number;
  private readonly timer: NodeJS.Timeout;
  private readonly queue: ReceivedNotification[] = [];
  private readonly owned = new Set<number>();
  private readonly tempDir: string | undefined;
  private failure: Error | undefined;

  private constructor(
    binding: NativeBinding,
    fd: number,
    notifySocket: string,
    tempDir: string | undefined,
    pollMs: number,
  ) {
    super();
    this.binding = binding;
    this.fd = fd;
    this.notifySocket = notifySocket;
    this.tempDir = tempDir;
    this.timer = setInterval(() => this.drain(), pollMs);
  }

  /** Binds the socket. Rejects with SdNotifyError when the addon is missing or bind fails. */
  static async create(options: NotifyListenerOptions = {}): Promise<NotifyListener> {
    const binding = requireNative('NotifyListener');
    let tempDir: string | undefined;
    let value: string;
    if (options.abstract !== undefined) value = `@${options.abstract}`;
    else if (options.path !== undefined) value = path.resolve(options.path);
    else {
      tempDir = mkdtempSync(path.join(tmpdir(), 'sdnotify-'));
      value = path.join(tempDir, 'notify.sock');
    }
    const address = parseNotifySocket(value);
    if (address.kind !== 'unix') {
      throw new RangeError(
        `NotifyListener address ${value} ${address.kind === 'invalid' ? address.reason : 'must be AF_UNIX'}`,
      );
    }
    const fd = binding.bindUnix(address.sunPath);
    if (fd < 0) throw transportError(fd, 'bind', value);
    return new NotifyListener(binding, fd, value, tempDir, options.pollIntervalMs ?? 5);
  }

  /** `{ NOTIFY_SOCKET }`, to spread into a child's environment. */
  get env(): { NOTIFY_SOCKET: string } {
    return { NOTIFY_SOCKET: this.notifySocket };
  }

  /** The next message (queued or yet to come); rejects after `timeoutMs` (default 5000). */
  async next(timeoutMs = 5000): Promise<ReceivedNotification> {
    this.drain();
    if (this.failure) throw this.failure;
    const queued = this.queue.shift();
    if (queued) return queued;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    try {
      await once(this, 'message', { signal: ac.signal });
      return this.queue.shift()!;
    } catch (e) {
      if (ac.signal.aborted)
        throw new Error(`no notification arrived at ${this.notifySocket} within ${timeoutMs} ms`);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops receiving, closes the socket and every received fd not taken, removes a temp path. */
  close(): void {
    if (this.fd < 0) return;
    clearInterval(this.timer);
    this.drain();
    this.binding.closeFd(this.fd);
    this.fd = -1;
    for (const fd of this.owned) this.binding.closeFd(fd);
    this.owned.clear();
    if (this.tempDir) rmSync(this.tempDir, { recursive: true, force: true });
    else if (!this.notifySocket.startsWith('@')) rmSync(this.notifySocket, { force: true });
  }

  /** Marks a received fd as the caller's: close() will leave it open. */
  take(fd: number): number {
    this.owned.delete(fd);
    return fd;
  }

  private drain(): void {
    while (this.fd >= 0) {
      const got = this.binding.recvUnix(this.fd);
      if (got === null) return;
      if (typeof got === 'number') {
        // Never an unhandled 'error' from a timer: without a listener, next() rejects with it.
        const error = transportError(got, 'recvmsg', this.notifySocket);
        if (this.listenerCount('error') > 0) this.emit('error', error);
        else this.failure = error;
        return;
      }
      const text = got.data.toString('utf8');
      const assignments = text
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => {
          const eq = line.indexOf('=');
          return eq < 0
            ? { key: line, value: '' }
            : { key: line.slice(0, eq), value: line.slice(eq + 1) };
        });
      const msg: ReceivedNotification = {
        raw: got.data,
        assignments,
        fields: Object.fromEntries(assignments.map((a) => [a.key, a.value])),
        pid: got.pid ?? -1,
        uid: got.uid ?? -1,
        gid: got.gid ?? -1,
        fds: got.fds,
        truncated: got.truncated,
        receivedAt: new Date(),
      };
      if (msg.fields.BARRIER === '1') {
        for (const fd of got.fds) this.binding.closeFd(fd); // the acknowledgement: POLLHUP
        msg.fds = [];
      } else {
        for (const fd of got.fds) this.owned.add(fd);
      }
      this.queue.push(msg);
      this.emit('message', msg);
    }
  }
}
