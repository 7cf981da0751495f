import { parseNotifySocket, type NotifyAddress } from './address';
import { transmit } from './backend/select';
import { backendInfo, noTransportHint } from './backend/select';
import { SdNotifyError, errno, transportError } from './errors';
import { encodeMessage, type NotifyState } from './state';
import { MAX_FDS, PID_MAX, checkNoNewline, describe } from './validate';

/** Options of {@link notify} and the shorthands. */
export interface NotifyOptions {
  /**
   * Send on behalf of this pid (SCM_CREDENTIALS; needs privileges). 0 or absent: this process.
   * Where the kernel refuses those credentials the message goes out with this process's own, as
   * libsystemd does.
   */
  pid?: number;
  /** File descriptors to pass (with `fdStore`). They stay open and remain the caller's. */
  fds?: readonly number[] | Int32Array;
  /**
   * Remove `NOTIFY_SOCKET` from `process.env` after the send, whether it succeeded or not (an
   * argument error changes nothing). In a worker thread this is the worker's own copy.
   */
  unsetEnvironment?: boolean;
  /** Send here instead of `$NOTIFY_SOCKET` (a path, `@abstract` or `vsock:CID:PORT`). */
  socket?: string;
}

const OPTION_KEYS = new Set(['pid', 'fds', 'unsetEnvironment', 'socket']);

function checkOptions(options: unknown): {
  pid: number;
  fds: number[];
  unset: boolean;
  socket?: string;
} {
  if (options === undefined) return { pid: 0, fds: [], unset: false };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) {
      throw new TypeError(`options.${key} is not an option (pid, fds, unsetEnvironment, socket)`);
    }
  }
  // Each option is read once: a getter cannot hand validation one value and the send another.
  const { pid = 0, fds: fdsIn, unsetEnvironment, socket } = options as Record<string, unknown>;
  if (typeof pid !== 'number')
    throw new TypeError(`options.pid must be a number, got ${describe(pid)}`);
  if (!Number.isInteger(pid) || pid < 0 || pid > PID_MAX) {
    throw new RangeError(`options.pid must be an integer from 0 to ${PID_MAX}, got ${pid}`);
  }
  const fds: number[] = [];
  if (fdsIn !== undefined) {
    if (!Array.isArray(fdsIn) && !(fdsIn instanceof Int32Array)) {
      throw new TypeError(`options.fds must be an array of fds, got ${describe(fdsIn)}`);
    }
    const list = fdsIn as ArrayLike<unknown>;
    if (list.length > MAX_FDS) {
      throw new RangeError(
        `options.fds holds ${list.length} fds; one message carries at most ${MAX_FDS}`,
      );
    }
    // By index, so a hole in a sparse array is an error rather than a silent fd 0 (stdin).
    for (let i = 0; i < list.length; i++) {
      const fd = list[i];
      if (typeof fd !== 'number') {
        throw new TypeError(`options.fds[${i}] must be a number, got ${describe(fd)}`);
      }
      if (!Number.isInteger(fd) || fd < 0 || fd > PID_MAX) {
        throw new RangeError(
          `options.fds[${i}] must be a file descriptor (an integer >= 0), got ${fd}`,
        );
      }
      fds.push(fd);
    }
  }
  if (unsetEnvironment !== undefined && typeof unsetEnvironment !== 'boolean') {
    throw new TypeError(
      `options.unsetEnvironment must be a boolean, got ${describe(unsetEnvironment)}`,
    );
  }
  if (socket !== undefined && typeof socket !== 'string') {
    throw new TypeError(`options.socket must be a string, got ${describe(socket)}`);
  }
  return { pid, fds, unset: unsetEnvironment === true, socket };
}

/**
 * Sends one notification to the service manager.
 *
 * @returns `true` when sent, `false` when not supervised (`NOTIFY_SOCKET` unset or empty).
 * @throws TypeError/RangeError for bad input (nothing is sent), {@link SdNotifyError} when the
 *   message could not be handed over (`code`, `errno`, `syscall`, `hint`).
 *
 * @example
 * notify({ ready: true, status: 'Serving on :8080' });
 * notify('STATUS=warming up');
 */
export function notify(state: NotifyState | string, options?: NotifyOptions): boolean {
  const opts = checkOptions(options);
  const data = encodeMessage(state, opts.fds.length);
  let address: NotifyAddress | undefined;
  if (opts.socket !== undefined) {
    address = parseNotifySocket(opts.socket);
    if (address.kind === 'invalid') {
      throw new RangeError(`options.socket ${address.reason}, got ${JSON.stringify(opts.socket)}`);
    }
  }
  const value = opts.socket ?? process.env.NOTIFY_SOCKET;
  const source = opts.socket === undefined ? 'NOTIFY_SOCKET' : 'socket';
  try {
    if (value === undefined || value === '') return false;
    if (address === undefined) {
      address = parseNotifySocket(value);
      if (address.kind === 'invalid' && address.code === 'ENAMETOOLONG') {
        throw transportError(-errno('ENAMETOOLONG'), undefined, value, source);
      }
      if (address.kind === 'invalid') {
        throw new SdNotifyError(`sd_notify: NOTIFY_SOCKET ${address.reason}`, {
          code: 'ERR_SDNOTIFY_BAD_SOCKET',
          hint: `NOTIFY_SOCKET=${JSON.stringify(value)} must be an absolute path, @abstract or vsock:CID:PORT; something in the environment set it wrongly`,
          address: value,
        });
      }
    }
    const result = transmit(address, data, opts.pid, opts.fds, opts.socket === undefined);
    if (result === undefined) {
      const info = backendInfo();
      throw new SdNotifyError(`sd_notify: no transport: ${info.reason}`, {
        code: 'ERR_SDNOTIFY_NO_TRANSPORT',
        hint: noTransportHint(),
        address: value,
        cause: info.error,
      });
    }
    if (result.rc < 0) throw transportError(result.rc, result.syscall, value, source);
    return true;
  } finally {
    if (opts.unset) delete process.env.NOTIFY_SOCKET;
  }
}

/** A shorthand's status argument, checked under the shorthand's own name. */
function statusArg(fn: string, text: unknown): string | undefined {
  if (text === undefined) return undefined;
  const name = fn === 'status' ? 'text' : 'status';
  if (typeof text !== 'string') {
    throw new TypeError(`${fn}(${name}): ${name} must be a string, got ${describe(text)}`);
  }
  checkNoNewline(`${fn}(${name}): ${name}`, text);
  return text;
}

/** `READY=1` (and `STATUS=` when given): start-up or a reload is complete. */
export function ready(status?: string, options?: NotifyOptions): boolean {
  return notify({ ready: true, status: statusArg('ready', status) }, options);
}

/** `STATUS=`: one line shown by `systemctl status`. */
export function status(text: string, options?: NotifyOptions): boolean {
  if (typeof text !== 'string') {
    throw new TypeError(`status(text): text must be a string, got ${describe(text)}`);
  }
  return notify({ status: statusArg('status', text) }, options);
}

/** `STOPPING=1` (and `STATUS=`): shutdown begins. Send it once, when really exiting. */
export function stopping(status?: string, options?: NotifyOptions): boolean {
  return notify({ stopping: true, status: statusArg('stopping', status) }, options);
}

/** CLOCK_MONOTONIC in µs (libuv's hrtime is CLOCK_MONOTONIC on Linux). */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

/**
 * `RELOADING=1` with `MONOTONIC_USEC=` (and `STATUS=`) in one datagram, as `Type=notify-reload`
 * requires. Send {@link ready} when the reload is done.
 */
export function reloading(status?: string, options?: NotifyOptions): boolean {
  return notify(
    { reloading: true, monotonicUsec: monotonicUsec(), status: statusArg('reloading', status) },
    options,
  );
}

/**
 * `EXTEND_TIMEOUT_USEC=`: asks for `ms` more milliseconds in the current start, run or stop
 * phase; send again before it runs out.
 */
export function extendTimeout(ms: number, options?: NotifyOptions): boolean {
  if (typeof ms !== 'number')
    throw new TypeError(`extendTimeout(ms): ms must be a number, got ${describe(ms)}`);
  // Up to 2^53 µs (285 years) as a safe integer; systemd caps timeouts far below that anyway.
  const maxMs = Math.floor(Number.MAX_SAFE_INTEGER / 1000);
  if (!Number.isFinite(ms) || ms <= 0 || ms > maxMs) {
    throw new RangeError(`extendTimeout(ms): ms must be a number > 0 and <= ${maxMs}, got ${ms}`);
  }
  return notify({ extendTimeoutUsec: Math.max(1, Math.round(ms * 1000)) }, options);
}
