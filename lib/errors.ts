import { lstatSync } from 'node:fs';
import { errnoTable } from './errno';
import { getSystemErrorMap } from 'node:util';

/** An errno name (`ENOENT`, `EAGAIN`, …) or one of sdnotify's own `ERR_SDNOTIFY_*` codes. */
export type SdNotifyErrorCode =
  'ERR_SDNOTIFY_NO_TRANSPORT' | 'ERR_SDNOTIFY_BAD_SOCKET' | 'ETIMEDOUT' | (string & {});

/** Fields of an {@link SdNotifyError}. */
export interface SdNotifyErrorInit {
  code: SdNotifyErrorCode;
  /** Negative errno, as in Node's own system errors; absent for non-errno failures. */
  errno?: number;
  /** The system call that failed (`sendmsg`, `socket`, `connect`, …). */
  syscall?: string;
  /** One line naming what to check. */
  hint: string;
  /** The `NOTIFY_SOCKET` value the call used. */
  address?: string;
  cause?: unknown;
}

/**
 * A notification could not be handed to the service manager. Argument mistakes are never this
 * error: they are `TypeError`/`RangeError`, thrown before anything is sent.
 */
export class SdNotifyError extends Error {
  /** An errno name (`ENOENT`, `ECONNREFUSED`, `EPROTOTYPE`, `EAGAIN`, …) or an `ERR_SDNOTIFY_*` code. */
  readonly code: SdNotifyErrorCode;
  /** Negative errno (`-2` for `ENOENT`), like Node's system errors; undefined for non-errno codes. */
  readonly errno: number | undefined;
  /** The failing system call, when there is one. */
  readonly syscall: string | undefined;
  /** What to check, in one line: `Type=notify`, `NotifyAccess=`, the socket's path and type. */
  readonly hint: string;
  /** The `NOTIFY_SOCKET` value in use. */
  readonly address: string | undefined;

  constructor(message: string, init: SdNotifyErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'SdNotifyError';
    this.code = init.code;
    this.errno = init.errno;
    this.syscall = init.syscall;
    this.hint = init.hint;
    this.address = init.address;
  }
}

// Aliases share a number (EWOULDBLOCK = EAGAIN, EDEADLOCK = EDEADLK, ENOTSUP = EOPNOTSUPP):
// the first name listed, the one C's strerror tables use, wins.
let errnoNames: Map<number, string> | undefined;
function names(): Map<number, string> {
  if (errnoNames === undefined) {
    errnoNames = new Map();
    for (const [name, n] of Object.entries(errnoTable()))
      if (!errnoNames.has(n)) errnoNames.set(n, name);
  }
  return errnoNames;
}

/** `ENOENT` for 2 (or -2). */
export function errnoName(errno: number): string {
  return names().get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}

/** The C library's description, e.g. "no such file or directory". */
export function errnoDescription(errno: number): string {
  return getSystemErrorMap().get(-Math.abs(errno))?.[1] ?? 'unknown error';
}

/** Positive errno value of a name, e.g. 11 for `EAGAIN`. */
export function errno(name: keyof typeof import('node:os').constants.errno): number {
  return errnoTable()[name];
}

/** What is at a path that refused a datagram: the usual causes of ECONNREFUSED, told apart. */
function whatIsAt(path: string): string {
  try {
    const st = lstatSync(path);
    if (st.isDirectory()) return 'is a directory, not a socket';
    if (st.isFile()) return 'is a regular file, not a socket';
    if (st.isSymbolicLink()) return 'is a symbolic link to nothing that listens';
    if (st.isSocket())
      return 'is a socket file nobody is bound to any more (stale: its manager is gone)';
    return 'is not a socket';
  } catch {
    return 'has nobody bound to it';
  }
}

/** Where the address came from, for messages: the environment or the `socket` option. */
export type AddressSource = 'NOTIFY_SOCKET' | 'socket';

function hintFor(code: string, address: string, source: AddressSource): string {
  const at = JSON.stringify(address);
  switch (code) {
    case 'ENOENT':
      return `nothing exists at ${at}: is the unit Type=notify, and does this process see the manager's /run (RootDirectory=, PrivateTmp=, a container)?`;
    case 'ECONNREFUSED': {
      const why =
        source === 'NOTIFY_SOCKET'
          ? 'was NOTIFY_SOCKET inherited from a manager that is gone?'
          : 'check the socket option';
      return address.startsWith('@')
        ? `nobody is bound to the abstract name ${at} (or only a stream socket is; abstract names are per network namespace): ${why}`
        : `${at} ${whatIsAt(address)}: ${why}`;
    }
    case 'EPROTOTYPE':
      return `${at} is not a datagram socket ("Protocol wrong type"): ${source} must name the manager's AF_UNIX SOCK_DGRAM socket`;
    case 'ENOPROTOOPT':
      return `"Protocol not available" at ${at}: ${source} must name the manager's AF_UNIX SOCK_DGRAM socket; is the unit Type=notify?`;
    case 'EAGAIN':
      return `the manager's receive queue at ${at} is full: it is not reading notifications right now (busy, hung or stopped); retry later`;
    case 'EACCES':
    case 'EPERM':
      return `no permission to send to ${at}: check the socket's owner and mode, the unit's User=, and SELinux/AppArmor denials`;
    case 'EMSGSIZE':
    case 'ENOBUFS':
      return `the message is too large for ${at}: the manager reads at most 4096 bytes per datagram`;
    case 'ENAMETOOLONG':
      return `the socket path ${at} is longer than an AF_UNIX address can hold (107 bytes); use a shorter path or an @abstract name`;
    case 'EAFNOSUPPORT':
      return `${at} is a vsock address, which the builtin backend does not support yet; use the libsystemd backend with libsystemd >= 253`;
    case 'EINVAL':
      return address.startsWith('vsock')
        ? `${at} is a vsock address, which this libsystemd does not support (it needs systemd >= 253)`
        : `${source}=${at} is not a valid address: it must be an absolute path, @abstract or vsock:CID:PORT`;
    case 'ETIMEDOUT':
      return `the manager did not process the barrier sent to ${at} in time: it is busy or hung, or whatever reads ${source} does not acknowledge BARRIER=1 (systemd >= 246 does)`;
    case 'EMFILE':
    case 'ENFILE':
      return 'out of file descriptors: look for a descriptor leak, or raise LimitNOFILE=';
    case 'EBADF':
      return 'a file descriptor passed in fds is not open';
    default:
      return `check ${source} (${at}) and that the service manager is running`;
  }
}

/** The error a failed send turns into: code, errno, syscall and a hint naming what to check. */
export function transportError(
  rc: number,
  syscall: string | undefined,
  address: string,
  source: AddressSource = 'NOTIFY_SOCKET',
): SdNotifyError {
  const code = errnoName(rc);
  return new SdNotifyError(
    `sd_notify: ${syscall ? `${syscall} ` : ''}${code}: ${errnoDescription(rc)} (${source}=${JSON.stringify(address)})`,
    { code, errno: -Math.abs(rc), syscall, hint: hintFor(code, address, source), address },
  );
}
