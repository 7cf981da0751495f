import { parseNotifySocket, type NotifyAddress } from './address';
import { transmit } from './backend/select';
import { backendInfo, noTransportHint } from './backend/select';
import { SdNotifyError, errno, transportError } from './errors';
import { encodeMessage, type NotifyState } from './state';
import { MAX_FDS, describe } from './validate';

/** Options of {@link notify} and the shorthands. */
export interface NotifyOptions {
  /** Send on behalf of this pid (SCM_CREDENTIALS; needs privileges). 0 or absent: this process. */
  pid?: number;
  /** File descriptors to pass (with `fdStore`). They stay open and remain the caller's. */
  fds?: readonly number[];
  /** Remove `NOTIFY_SOCKET` from `process.env` after this call, whatever its outcome. */
  unsetEnvironment?: boolean;
  /** Send here instead of `$NOTIFY_SOCKET` (a path, `@abstract` or `vsock:CID:PORT`). */
  socket?: string;
}

const OPTION_KEYS = new Set(['pid', 'fds', 'unsetEnvironment', 'socket']);
const PID_MAX = 0x7fffffff;

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
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!OPTION_KEYS.has(key)) {
      throw new TypeError(`options.${key} is not an option (pid, fds, unsetEnvironment, socket)`);
    }
  }
  let pid = 0;
  if (o.pid !== undefined) {
    if (typeof o.pid !== 'number')
      throw new TypeError(`options.pid must be a number, got ${describe(o.pid)}`);
    if (!Number.isInteger(o.pid) || o.pid < 0 || o.pid > PID_MAX) {
      throw new RangeError(`options.pid must be an integer from 0 to ${PID_MAX}, got ${o.pid}`);
    }
    pid = o.pid;
  }
  let fds: number[] = [];
  if (o.fds !== undefined) {
    if (!Array.isArray(o.fds))
      throw new TypeError(`options.fds must be an array of fds, got ${describe(o.fds)}`);
    if (o.fds.length > MAX_FDS) {
      throw new RangeError(
        `options.fds holds ${o.fds.length} fds; one message carries at most ${MAX_FDS}`,
      );
    }
    fds = o.fds.map((fd: unknown, i: number) => {
      if (typeof fd !== 'number')
        throw new TypeError(`options.fds[${i}] must be a number, got ${describe(fd)}`);
      if (!Number.isInteger(fd) || fd < 0 || fd > PID_MAX) {
        throw new RangeError(
          `options.fds[${i}] must be a file descriptor (an integer >= 0), got ${fd}`,
        );
      }
      return fd;
    });
  }
  if (o.unsetEnvironment !== undefined && typeof o.unsetEnvironment !== 'boolean') {
    throw new TypeError(
      `options.unsetEnvironment must be a boolean, got ${describe(o.unsetEnvironment)}`,
    );
  }
  if (o.socket !== undefined && typeof o.socket !== 'string') {
    throw new TypeError(`options.socket must be a string, got ${describe(o.socket)}`);
  }
  return { pid, fds, unset: o.unsetEnvironment === true, socket: o.socket };
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
    if (address.kind === 'invalid') throw new RangeError(`options.socket ${address.reason}`);
  }
  const value = opts.socket ?? process.env.NOTIFY_SOCKET;
  try {
    if (value === undefined || value === '') return false;
    if (address === undefined) {
      address = parseNotifySocket(value);
      if (address.kind === 'invalid' && address.code === 'ENAMETOOLONG') {
        throw transportError(-errno('ENAMETOOLONG'), 'connect', value);
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
    if (result.rc < 0) throw transportError(result.rc, result.syscall, value);
    return true;
  } finally {
    if (opts.unset) delete process.env.NOTIFY_SOCKET;
  }
}

/** `READY=1` (and `STATUS=` when given): start-up or a reload is complete. */
export function ready(status?: string, options?: NotifyOptions): boolean {
  return notify({ ready: true, status }, options);
}

/** `STATUS=`: one line shown by `systemctl status`. */
export function status(text: string, options?: NotifyOptions): boolean {
  if (typeof text !== 'string')
    throw new TypeError(`status text must be a string, got ${describe(text)}`);
  return notify({ status: text }, options);
}

/** `STOPPING=1` (and `STATUS=`): shutdown begins. Send it once, when really exiting. */
export function stopping(status?: string, options?: NotifyOptions): boolean {
  return notify({ stopping: true, status }, options);
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
  return notify({ reloading: true, monotonicUsec: monotonicUsec(), status }, options);
}

/**
 * `EXTEND_TIMEOUT_USEC=`: asks for `ms` more milliseconds in the current start, run or stop
 * phase; send again before it runs out.
 */
export function extendTimeout(ms: number, options?: NotifyOptions): boolean {
  if (typeof ms !== 'number')
    throw new TypeError(`extendTimeout(ms): ms must be a number, got ${describe(ms)}`);
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new RangeError(`extendTimeout(ms): ms must be a finite number > 0, got ${ms}`);
  }
  return notify({ extendTimeoutUsec: Math.max(1, Math.round(ms * 1000)) }, options);
}
