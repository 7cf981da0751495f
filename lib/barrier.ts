// BARRIER=1: wait until the manager has processed everything sent before. Not libsystemd's
// sd_notify_barrier(), which blocks its caller in poll() (and 252 has no sd_pid_notify_barrier):
// on both backends a pipe2(O_CLOEXEC) is made, BARRIER=1 goes out with its write end through the
// backend's send, our copy of the write end is closed, and the read end is watched for hang-up,
// which comes when the manager closes the copy it received. The read end is handed to a
// net.Socket: libuv polls a pipe in the event loop itself, so the wait holds no pool thread.
import { Socket } from 'node:net';

import { parseNotifySocket } from './address';
import type { NativeBinding } from './backend/native';
import { backendInfo, nativeBinding, noTransportHint, transmit } from './backend/select';
import { SdNotifyError, errno, transportError } from './errors';
import { PID_MAX, describe } from './validate';

const BARRIER = Buffer.from('BARRIER=1');
/** setTimeout's longest delay; longer waits are chained. */
const MAX_DELAY = 0x7fffffff;

export interface BarrierRequest {
  pid: number;
  unset: boolean;
  /** An explicit address, else `$NOTIFY_SOCKET`. */
  socket: string | undefined;
  /** Milliseconds; Infinity waits for ever. */
  timeoutMs: number;
  signal: AbortSignal | undefined;
}

/**
 * Sends a barrier and waits for it. Resolves with C's codes: 1 processed, 0 not supervised,
 * -errno (ETIMEDOUT when the wait ran out; ENOSYS without a transport). Rejects only with the
 * signal's reason when aborted.
 */
export async function runBarrier(req: BarrierRequest): Promise<{ rc: number; syscall?: string }> {
  req.signal?.throwIfAborted();
  const sent = sendBarrier(req);
  if (sent.readFd === undefined || sent.binding === undefined) return sent;
  if (req.timeoutMs === 0) {
    // Like libsystemd's poll() with a zero timeout: one look, no waiting.
    const rc = sent.binding.hungUp(sent.readFd);
    sent.binding.closeFd(sent.readFd);
    return { rc: rc === 1 ? 1 : rc === 0 ? -errno('ETIMEDOUT') : rc };
  }
  return { rc: await waitForHangUp(sent.readFd, req.timeoutMs, req.signal) };
}

/** The synchronous half: pipe, send, close our write end, unset the environment if asked. */
function sendBarrier(req: BarrierRequest): {
  rc: number;
  syscall?: string;
  readFd?: number;
  binding?: NativeBinding;
} {
  try {
    const value = req.socket ?? process.env.NOTIFY_SOCKET;
    if (value === undefined) return { rc: 0 };
    const address = parseNotifySocket(value);
    if (address.kind === 'invalid') return { rc: -errno(address.code) };
    const binding = nativeBinding();
    if (binding === undefined) return { rc: -errno('ENOSYS') };
    const pipe = binding.pipeCloexec();
    if (typeof pipe === 'number') return { rc: pipe, syscall: 'pipe2' };
    const [readFd, writeFd] = [pipe[0], pipe[1]];
    let result;
    try {
      result = transmit(address, BARRIER, req.pid, [writeFd], req.socket === undefined);
    } finally {
      binding.closeFd(writeFd); // only the manager's copy may keep the pipe open now
    }
    if (result === undefined || result.rc < 0) {
      binding.closeFd(readFd);
      return result ?? { rc: -errno('ENOSYS') };
    }
    return { rc: 1, readFd, binding };
  } finally {
    // Like libsystemd: after the send, whatever its outcome, before waiting.
    if (req.unset) delete process.env.NOTIFY_SOCKET;
  }
}

/** 1 when the pipe's last writer closes, -ETIMEDOUT when the time runs out; rejects when aborted. */
function waitForHangUp(
  fd: number,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<number> {
  const reader = new Socket({ fd, readable: true, writable: false });
  return new Promise<number>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (settle: () => void) => {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      reader.removeAllListeners();
      reader.on('error', () => {}); // nothing can be reported once settled
      reader.destroy(); // closes the read end
      settle();
    };
    // As Node's own APIs do: reject with whatever the signal was aborted with.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    const onAbort = () => finish(() => reject(signal!.reason));
    reader.on('end', () => finish(() => resolve(1)));
    reader.on('data', () => {}); // nobody writes into it; reading is how EOF is seen
    reader.on('error', (e: NodeJS.ErrnoException) =>
      finish(() => resolve(typeof e.errno === 'number' ? -Math.abs(e.errno) : -errno('EIO'))),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs !== Infinity) {
      const deadline = Date.now() + timeoutMs;
      const arm = () => {
        const left = deadline - Date.now();
        if (left <= 0) finish(() => resolve(-errno('ETIMEDOUT')));
        else timer = setTimeout(arm, Math.min(left, MAX_DELAY));
      };
      timer = setTimeout(arm, Math.min(timeoutMs, MAX_DELAY));
    }
    reader.resume();
  });
}

/** Options of {@link barrier}. */
export interface BarrierOptions {
  /** How long to wait, in ms (default 5000); `Infinity` waits for ever. */
  timeout?: number;
  /** Cancels the wait: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Send on behalf of this pid (SCM_CREDENTIALS; needs privileges). 0 or absent: this process. */
  pid?: number;
  /** Send here instead of `$NOTIFY_SOCKET`. */
  socket?: string;
  /** Remove `NOTIFY_SOCKET` from `process.env` once the barrier is sent. */
  unsetEnvironment?: boolean;
}

const BARRIER_KEYS = new Set(['timeout', 'signal', 'pid', 'socket', 'unsetEnvironment']);

function checkBarrierOptions(options: unknown): BarrierRequest {
  if (options === undefined) {
    return { pid: 0, unset: false, socket: undefined, timeoutMs: 5000, signal: undefined };
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`barrier(options): options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!BARRIER_KEYS.has(key)) {
      throw new TypeError(
        `barrier(options): options.${key} is not an option (timeout, signal, pid, socket, unsetEnvironment)`,
      );
    }
  }
  // Each option is read once.
  const {
    timeout = 5000,
    signal,
    pid = 0,
    socket,
    unsetEnvironment,
  } = options as Record<string, unknown>;
  if (typeof timeout !== 'number') {
    throw new TypeError(
      `barrier(options): options.timeout must be a number of ms, got ${describe(timeout)}`,
    );
  }
  if (Number.isNaN(timeout) || timeout < 0) {
    throw new RangeError(
      `barrier(options): options.timeout must be >= 0 ms or Infinity, got ${timeout}`,
    );
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(
      `barrier(options): options.signal must be an AbortSignal, got ${describe(signal)}`,
    );
  }
  if (typeof pid !== 'number')
    throw new TypeError(`barrier(options): options.pid must be a number, got ${describe(pid)}`);
  if (!Number.isInteger(pid) || pid < 0 || pid > PID_MAX) {
    throw new RangeError(
      `barrier(options): options.pid must be an integer from 0 to ${PID_MAX}, got ${pid}`,
    );
  }
  if (socket !== undefined) {
    if (typeof socket !== 'string') {
      throw new TypeError(
        `barrier(options): options.socket must be a string, got ${describe(socket)}`,
      );
    }
    const address = parseNotifySocket(socket);
    if (address.kind === 'invalid') {
      throw new RangeError(
        `barrier(options): options.socket ${address.reason}, got ${JSON.stringify(socket)}`,
      );
    }
  }
  if (unsetEnvironment !== undefined && typeof unsetEnvironment !== 'boolean') {
    throw new TypeError(
      `barrier(options): options.unsetEnvironment must be a boolean, got ${describe(unsetEnvironment)}`,
    );
  }
  return { pid, unset: unsetEnvironment === true, socket, timeoutMs: timeout, signal };
}

/**
 * Waits until the manager has processed every notification sent before (`BARRIER=1`). Needed by
 * short-lived helpers that notify on a unit's behalf and exit; never blocks the event loop and
 * holds no libuv pool thread while it waits.
 *
 * Processed is not accepted: PID 1 answers a barrier before it checks `NotifyAccess=`, so a
 * resolved barrier says nothing about whether earlier messages were rejected.
 *
 * @returns `true` once processed, `false` when not supervised (`NOTIFY_SOCKET` unset).
 * @throws {@link SdNotifyError} with `code: 'ETIMEDOUT'` when `timeout` ms pass first (or the
 *   transport's code); the signal's reason (an `AbortError`) when aborted; TypeError/RangeError
 *   for bad options, before anything is sent.
 *
 * @example
 * ready();
 * await barrier({ timeout: 5000 });
 */
export async function barrier(options?: BarrierOptions): Promise<boolean> {
  const req = checkBarrierOptions(options);
  const value = req.socket ?? process.env.NOTIFY_SOCKET;
  const source = req.socket === undefined ? 'NOTIFY_SOCKET' : 'socket';
  const { rc, syscall } = await runBarrier(req);
  if (rc === 1) return true;
  if (rc === 0) return false;
  if (rc === -errno('ENOSYS') && nativeBinding() === undefined) {
    throw new SdNotifyError(`sd_notify: no transport: ${backendInfo().reason}`, {
      code: 'ERR_SDNOTIFY_NO_TRANSPORT',
      hint: noTransportHint(),
      address: value,
      cause: backendInfo().error,
    });
  }
  throw transportError(rc, syscall, value ?? '', source);
}
