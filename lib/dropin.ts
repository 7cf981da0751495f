// The C functions under their C names: same arguments, same return codes (> 0 sent, 0 not
// supervised, < 0 minus errno), no exceptions for transport failures. What C could not be passed
// (a NUL inside the state, a wrong type) throws TypeError. The state is sent as given: the
// idiomatic layer's validation does not apply here, just as libsystemd applies none.
import { parseNotifySocket } from './address';
import { backendInfo, transmit } from './backend/select';
import { errno } from './errors';
import { runBarrier } from './barrier';
import { MAX_FDS, U64_MAX, describe, unsetEnvironmentArg } from './validate';

let warnedNoTransport = false;

/** The none backend with NOTIFY_SOCKET set: -ENOSYS, and a warning the first time. */
function noTransport(): number {
  if (!warnedNoTransport) {
    warnedNoTransport = true;
    process.emitWarning(
      `NOTIFY_SOCKET is set but sdnotify cannot send: ${backendInfo().reason}. Calls return -ENOSYS.`,
      { code: 'SDNOTIFY_NO_TRANSPORT' },
    );
  }
  return -errno('ENOSYS');
}

/** An int32, as C's pid_t and int: which values make sense is the kernel's to answer, as in C. */
function int32Arg(fn: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || (value | 0) !== value) {
    throw new TypeError(`${fn}: ${name} must be a 32-bit integer, got ${String(value)}`);
  }
  return value;
}

/** The state's bytes, or null for C's NULL (→ -EINVAL). */
function stateArg(fn: string, value: unknown): Buffer | null {
  if (value === null || value === undefined) return null;
  let bytes: Buffer;
  if (typeof value === 'string') bytes = Buffer.from(value, 'utf8');
  else if (value instanceof Uint8Array) bytes = Buffer.from(value);
  else throw new TypeError(`${fn}: state must be a string or Buffer, got ${describe(value)}`);
  if (bytes.includes(0)) {
    throw new TypeError(`${fn}: state must not contain a NUL byte (C would cut the string there)`);
  }
  return bytes;
}

function fdsArg(fn: string, value: unknown): number[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value) && !(value instanceof Int32Array)) {
    throw new TypeError(`${fn}: fds must be an array of file descriptors, got ${describe(value)}`);
  }
  const list = value as ArrayLike<unknown>;
  const out: number[] = [];
  // By index, so a hole in a sparse array is an error rather than a silent fd 0.
  for (let i = 0; i < list.length; i++) out.push(int32Arg(fn, `fds[${i}]`, list[i]));
  return out;
}

function pidNotifyWithFds(
  fn: string,
  pidIn: unknown,
  unsetIn: unknown,
  stateIn: unknown,
  fdsIn: unknown,
): number {
  const pid = int32Arg(fn, 'pid', pidIn);
  const unset = unsetEnvironmentArg(fn, unsetIn);
  const state = stateArg(fn, stateIn);
  const fds = fdsArg(fn, fdsIn);
  try {
    if (state === null) return -errno('EINVAL');
    // More than SCM_MAX_FD: the kernel refuses it (and libsystemd would abort in alloca first).
    if (fds.length > MAX_FDS) return -errno('EINVAL');
    const value = process.env.NOTIFY_SOCKET;
    if (value === undefined) return 0;
    const address = parseNotifySocket(value);
    if (address.kind === 'invalid') return -errno(address.code);
    const result = transmit(address, state, pid, fds, true);
    if (result === undefined) {
      return noTransport();
    }
    return result.rc;
  } finally {
    if (unset) delete process.env.NOTIFY_SOCKET;
  }
}

/**
 * `int sd_notify(int unset_environment, const char *state)`.
 * @returns > 0 sent, 0 when `NOTIFY_SOCKET` is unset, < 0 minus errno.
 */
export function sd_notify(unset_environment: boolean | number, state: string | Uint8Array): number {
  return pidNotifyWithFds('sd_notify', 0, unset_environment, state, null);
}

/**
 * `int sd_pid_notify(pid_t pid, int unset_environment, const char *state)`: sent on behalf of
 * `pid` (0 = this process).
 */
export function sd_pid_notify(
  pid: number,
  unset_environment: boolean | number,
  state: string | Uint8Array,
): number {
  return pidNotifyWithFds('sd_pid_notify', pid, unset_environment, state, null);
}

/**
 * `int sd_pid_notify_with_fds(pid_t pid, int unset_environment, const char *state, const int *fds,
 * unsigned n_fds)`: `fds` travel with the message (SCM_RIGHTS) and stay open here.
 */
export function sd_pid_notify_with_fds(
  pid: number,
  unset_environment: boolean | number,
  state: string | Uint8Array,
  fds: readonly number[] | Int32Array | null,
): number {
  return pidNotifyWithFds('sd_pid_notify_with_fds', pid, unset_environment, state, fds);
}

/** µs as C's uint64_t, to ms; UINT64_MAX is infinite. */
function timeoutArg(fn: string, value: unknown): number {
  if (typeof value === 'bigint') {
    if (value < 0n || value > U64_MAX) {
      throw new TypeError(`${fn}: timeout_usec must be from 0 to 2^64-1, got ${value}`);
    }
    return value === U64_MAX ? Infinity : Number(value) / 1000;
  }
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) {
    return value >= Number(U64_MAX) ? Infinity : value / 1000;
  }
  throw new TypeError(
    `${fn}: timeout_usec must be a non-negative integer or bigint of microseconds, got ${String(value)}`,
  );
}

async function pidNotifyBarrier(
  fn: string,
  pidIn: unknown,
  unsetIn: unknown,
  timeoutIn: unknown,
): Promise<number> {
  const pid = int32Arg(fn, 'pid', pidIn);
  const unset = unsetEnvironmentArg(fn, unsetIn);
  const timeoutMs = timeoutArg(fn, timeoutIn);
  const { rc } = await runBarrier({ pid, unset, socket: undefined, timeoutMs, signal: undefined });
  return rc === -errno('ENOSYS') && process.env.NOTIFY_SOCKET !== undefined ? noTransport() : rc;
}

/**
 * `int sd_notify_barrier(int unset_environment, uint64_t timeout)`: resolves once the manager
 * has processed every message sent before (1), with 0 when not supervised, or -errno
 * (-ETIMEDOUT when `timeout_usec` µs pass first; `2n ** 64n - 1n` waits for ever). Unlike
 * libsystemd's, it never blocks the event loop. "Processed" is not "accepted": the manager
 * answers a barrier before it checks `NotifyAccess=`.
 */
export function sd_notify_barrier(
  unset_environment: boolean | number,
  timeout_usec: number | bigint,
): Promise<number> {
  return pidNotifyBarrier('sd_notify_barrier', 0, unset_environment, timeout_usec);
}

/** `int sd_pid_notify_barrier(pid_t pid, int unset_environment, uint64_t timeout)` (libsystemd ≥ 254's). */
export function sd_pid_notify_barrier(
  pid: number,
  unset_environment: boolean | number,
  timeout_usec: number | bigint,
): Promise<number> {
  return pidNotifyBarrier('sd_pid_notify_barrier', pid, unset_environment, timeout_usec);
}
