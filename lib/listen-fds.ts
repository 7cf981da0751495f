// What systemd hands back on start: the fds of socket units and of the fd store, as fds 3.. with
// LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES, and the helpers that turn them into Node objects.
import dgram from 'node:dgram';
import { readSync } from 'node:fs';
import net from 'node:net';

import { parseNotifySocket } from './address';
import { requireNative, type NativeBinding } from './backend/native';
import { SdNotifyError, errno, errnoDescription, errnoName, transportError } from './errors';
import { describe, unsetEnvironmentArg } from './validate';

/** The first fd systemd passes (after stdin, stdout, stderr). */
export const SD_LISTEN_FDS_START = 3;

/** One fd handed over by systemd, with its name (`FileDescriptorName=`, `FDNAME=`, or `unknown`). */
export interface ListenFd {
  fd: number;
  name: string;
}

const binding = (): NativeBinding => requireNative('sdnotify listen fds');

function unsetListenEnv(unset: boolean): void {
  if (!unset) return;
  delete process.env.LISTEN_PID;
  delete process.env.LISTEN_FDS;
  delete process.env.LISTEN_FDNAMES;
}

/**
 * systemd's safe_atoi()/parse_pid(): leading white space, "0b"/"0o" prefixes (no sign after
 * them), then strtol() with base 0 (0x hex, leading-0 octal); the whole text must be a number.
 * Returns the value, or the -errno systemd returns: EINVAL for garbage, ERANGE out of range (or a
 * sign where unsigned).
 */
function parseSystemdInt(text: string, unsigned: boolean): { value: number } | { error: number } {
  let rest = text.replace(/^[ \t\n\r]+/, '');
  let base = 0;
  const prefixed = /^0[bBoO]/.exec(rest);
  if (prefixed) {
    base = /[bB]/.test(rest[1]) ? 2 : 8;
    rest = rest.slice(2);
  }
  rest = rest.replace(/^\s+/, '');
  let negative = false;
  if (rest.startsWith('+') || rest.startsWith('-')) {
    if (prefixed) return { error: -errno('EINVAL') };
    negative = rest.startsWith('-');
    rest = rest.slice(1);
  }
  if (base === 0) {
    if (/^0[xX]/.test(rest)) {
      base = 16;
      rest = rest.slice(2);
    } else base = rest.length > 1 && rest.startsWith('0') ? 8 : 10;
  }
  const digits = { 2: /^[01]+$/, 8: /^[0-7]+$/, 10: /^[0-9]+$/, 16: /^[0-9a-fA-F]+$/ }[
    base as 2 | 8 | 10 | 16
  ];
  if (!digits.test(rest)) return { error: -errno('EINVAL') };
  if (unsigned && negative) return { error: -errno('ERANGE') };
  const value = BigInt(
    base === 10 ? rest : `0${{ 2: 'b', 8: 'o', 16: 'x' }[base as 2 | 8 | 16]}${rest}`,
  );
  const signed = negative ? -value : value;
  if (signed > 0x7fffffffn || signed < -0x80000000n) return { error: -errno('ERANGE') };
  return { value: Number(signed) };
}

function listenFdsCount(): number {
  const pidText = process.env.LISTEN_PID;
  if (pidText === undefined) return 0;
  const pid = parseSystemdInt(pidText, true);
  if ('error' in pid) return pid.error;
  if (pid.value <= 0) return -errno('ERANGE'); // parse_pid: not a valid pid
  if (pid.value !== process.pid) return 0; // for another process (inherited by a child)
  const fdsText = process.env.LISTEN_FDS;
  if (fdsText === undefined) return 0;
  const parsed = parseSystemdInt(fdsText, false);
  if ('error' in parsed) return parsed.error;
  const n = parsed.value;
  if (n <= 0 || n > 0x7fffffff - SD_LISTEN_FDS_START) return -errno('EINVAL');
  const b = binding();
  for (let fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
    const r = b.setCloexec(fd);
    if (r < 0) return r;
  }
  return n;
}

/**
 * `int sd_listen_fds(int unset_environment)`: how many fds systemd passed to this process
 * (from fd 3), 0 when none or they are for another pid, -errno when the variables are garbage.
 * Sets FD_CLOEXEC on each, so children do not inherit them.
 */
export function sd_listen_fds(unset_environment: boolean | number): number {
  const unset = unsetEnvironmentArg('sd_listen_fds', unset_environment);
  try {
    return listenFdsCount();
  } finally {
    unsetListenEnv(unset);
  }
}

/**
 * `int sd_listen_fds_with_names(int unset_environment, char ***names)`: as
 * {@link sd_listen_fds}, with the names C returns through `names` (`unknown` for each when
 * `LISTEN_FDNAMES` is unset); a count mismatch is `n = -EINVAL`.
 */
export function sd_listen_fds_with_names(unset_environment: boolean | number): {
  n: number;
  names: string[];
} {
  const unset = unsetEnvironmentArg('sd_listen_fds_with_names', unset_environment);
  try {
    const text = process.env.LISTEN_FDNAMES;
    // As strv_split(…, EXTRACT_DONT_COALESCE_SEPARATORS): "" is one empty name, "a::b" three.
    const names = text === undefined ? undefined : text.split(':');
    const n = listenFdsCount();
    if (n <= 0) return { n, names: [] };
    if (names === undefined) return { n, names: Array<string>(n).fill('unknown') };
    if (names.length !== n) return { n: -errno('EINVAL'), names: [] };
    return { n, names };
  } finally {
    unsetListenEnv(unset);
  }
}

/**
 * The fds systemd passed to this process, with their names; `[]` when none (or not for this
 * pid). Each is close-on-exec.
 *
 * @throws SdNotifyError `EINVAL` when `LISTEN_*` are garbage or the names do not match the count.
 */
export function listenFds(options?: { unsetEnvironment?: boolean }): ListenFd[] {
  const unset = options?.unsetEnvironment ?? false;
  if (typeof unset !== 'boolean') {
    throw new TypeError(
      `listenFds(options): options.unsetEnvironment must be a boolean, got ${describe(unset)}`,
    );
  }
  const env = {
    pid: process.env.LISTEN_PID,
    fds: process.env.LISTEN_FDS,
    names: process.env.LISTEN_FDNAMES,
  };
  const { n, names } = sd_listen_fds_with_names(unset);
  if (n < 0) {
    throw new SdNotifyError(
      `sdnotify: LISTEN_PID=${env.pid} LISTEN_FDS=${env.fds} LISTEN_FDNAMES=${env.names} cannot be used: ${-n === errno('EINVAL') ? 'invalid' : 'out of range'}`,
      {
        code: -n === errno('EINVAL') ? 'EINVAL' : 'ERANGE',
        errno: n,
        hint: 'LISTEN_FDS must be a positive count, LISTEN_PID this pid, and LISTEN_FDNAMES that many names separated by ":"; something other than systemd set them',
      },
    );
  }
  return names.map((name, i) => ({ fd: SD_LISTEN_FDS_START + i, name }));
}

/** What an fd is, from fstat and its socket options. */
export interface FdInfo {
  kind: 'socket' | 'file' | 'fifo' | 'other';
  socketType?: 'stream' | 'dgram' | 'seqpacket';
  family?: 'unix' | 'inet' | 'inet6' | 'other';
  /** A stream socket in listen() state. */
  listening?: boolean;
  /** A file's size in bytes. */
  size?: number;
}

const S_IFMT = 0o170000;

function fdOf(target: number | ListenFd, fn: string): number {
  const fd = typeof target === 'object' && target !== null ? target.fd : target;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    throw new TypeError(`${fn}: expected a file descriptor or a ListenFd, got ${describe(target)}`);
  }
  return fd;
}

/** What kind of fd this is: a listening or connected socket (and its family), a file, a pipe. */
export function fdInfo(fd: number): FdInfo {
  const info = binding().fdInfo(fdOf(fd, 'fdInfo'));
  if (typeof info === 'number') throw transportError(info, 'fstat', `fd ${fd}`);
  const fmt = info.mode & S_IFMT;
  if (fmt === 0o100000) return { kind: 'file', size: info.size };
  if (fmt === 0o010000) return { kind: 'fifo' };
  if (fmt !== 0o140000) return { kind: 'other' };
  const socketType = ({ 1: 'stream', 2: 'dgram', 5: 'seqpacket' } as const)[
    info.soType as 1 | 2 | 5
  ];
  const family =
    ({ 1: 'unix', 2: 'inet', 10: 'inet6' } as const)[info.soDomain as 1 | 2 | 10] ?? 'other';
  return { kind: 'socket', socketType, family, listening: info.acceptConn === 1 };
}

function describeFd(info: FdInfo): string {
  if (info.kind !== 'socket') return `a ${info.kind}`;
  return `a ${info.listening ? 'listening ' : ''}${info.family} ${info.socketType ?? 'unknown-type'} socket`;
}

/**
 * A listening stream socket (TCP or UNIX) as a server, already listening: pass your own
 * `http.createServer(app)` to serve HTTP on it. A server adopted this way never unlinks a UNIX
 * socket's path when it closes.
 */
export function adoptServer<S extends net.Server = net.Server>(
  target: number | ListenFd,
  server?: S,
): S {
  const fd = fdOf(target, 'adoptServer');
  const info = fdInfo(fd);
  if (info.kind !== 'socket' || info.socketType !== 'stream' || !info.listening) {
    throw new TypeError(
      `adoptServer: fd ${fd} is ${describeFd(info)}, not a listening stream socket`,
    );
  }
  const s = server ?? (net.createServer() as S);
  s.listen({ fd });
  return s;
}

/** A connected stream socket (TCP or UNIX) as a net.Socket. */
export function adoptSocket(target: number | ListenFd): net.Socket {
  const fd = fdOf(target, 'adoptSocket');
  const info = fdInfo(fd);
  if (info.kind !== 'socket' || info.socketType !== 'stream' || info.listening) {
    throw new TypeError(
      `adoptSocket: fd ${fd} is ${describeFd(info)}, not a connected stream socket`,
    );
  }
  return new net.Socket({ fd, readable: true, writable: true });
}

/** A UDP socket (inet or inet6 datagram) as a dgram.Socket. */
export function adoptDgram(target: number | ListenFd): dgram.Socket {
  const fd = fdOf(target, 'adoptDgram');
  const info = fdInfo(fd);
  if (
    info.kind !== 'socket' ||
    info.socketType !== 'dgram' ||
    (info.family !== 'inet' && info.family !== 'inet6')
  ) {
    throw new TypeError(
      `adoptDgram: fd ${fd} is ${describeFd(info)}, not a UDP socket (dgram handles only inet/inet6)`,
    );
  }
  const socket = dgram.createSocket(info.family === 'inet6' ? 'udp6' : 'udp4');
  socket.bind({ fd });
  return socket;
}

/** The whole content of a file or memfd, read from offset 0 (the fd's own offset is untouched). */
export function readFdContents(target: number | ListenFd): Buffer {
  const fd = fdOf(target, 'readFdContents');
  const info = fdInfo(fd);
  if (info.kind !== 'file')
    throw new TypeError(`readFdContents: fd ${fd} is ${describeFd(info)}, not a file`);
  const out = Buffer.alloc(info.size ?? 0);
  let done = 0;
  while (done < out.length) {
    const n = readSync(fd, out, done, out.length - done, done);
    if (n === 0) break;
    done += n;
  }
  return out.subarray(0, done);
}

/** Adopts by kind: a server, a socket, a UDP socket, or a file's contents. */
export function adopt(target: number | ListenFd): net.Server | net.Socket | dgram.Socket | Buffer {
  const info = fdInfo(fdOf(target, 'adopt'));
  if (info.kind === 'file') return readFdContents(target);
  if (info.kind === 'socket' && info.socketType === 'stream') {
    return info.listening ? adoptServer(target) : adoptSocket(target);
  }
  return adoptDgram(target);
}

/**
 * A UNIX stream server listening at `path`, bound by the addon rather than by libuv, which
 * unlinks a path it bound when the server closes. So the path outlives this process: store the
 * server with `storeFd(server, { name })` and the next process adopts it at the same path.
 */
export function listenUnix<S extends net.Server = net.Server>(
  path: string,
  options: { backlog?: number; mode?: number; server?: S } = {},
): S {
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new TypeError(`listenUnix(path): path must be an absolute path, got ${describe(path)}`);
  }
  const address = parseNotifySocket(path);
  if (address.kind !== 'unix')
    throw new RangeError(
      `listenUnix(path): path ${address.kind === 'invalid' ? address.reason : 'is not a path'}`,
    );
  const fd = binding().listenUnix(address.sunPath, options.backlog ?? 511);
  if (fd < 0) {
    const code = errnoName(fd);
    throw new SdNotifyError(
      `listenUnix: bind ${code}: ${errnoDescription(fd)} (${JSON.stringify(path)})`,
      {
        code,
        errno: fd,
        syscall: 'bind',
        hint:
          code === 'EADDRINUSE'
            ? `something is at ${JSON.stringify(path)} already: a stale socket file of an earlier run? Remove it first`
            : `check that the directory of ${JSON.stringify(path)} exists and is writable`,
      },
    );
  }
  if (options.mode !== undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require('node:fs') as typeof import('node:fs')).chmodSync(path, options.mode);
  }
  const server = options.server ?? (net.createServer() as S);
  server.listen({ fd });
  return server;
}
