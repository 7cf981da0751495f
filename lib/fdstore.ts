// The manager's fd store: file descriptors (listening sockets, connections, state in a sealed
// memfd) kept by systemd across restarts of the service and handed back as listen fds.
import type dgram from 'node:dgram';
import type { FileHandle } from 'node:fs/promises';
import net from 'node:net';

import { requireNative } from './backend/native';
import { transportError } from './errors';
import { listenFds, readFdContents, type ListenFd } from './listen-fds';
import { notify } from './notify';
import { checkFdName, describe } from './validate';

/** What {@link storeFd} accepts: an fd number or a Node object that owns one. */
export type StorableFd = number | net.Server | net.Socket | dgram.Socket | FileHandle;

/** Options of {@link storeFd}. */
export interface StoreFdOptions {
  /** `FDNAME=`: the name the fd comes back under; printable ASCII, no ":", 1–255 characters. */
  name: string;
  /** `false` sends `FDPOLL=0`: the manager keeps the fd even after EPOLLHUP/EPOLLERR. */
  poll?: boolean;
  /** Send on behalf of this pid. */
  pid?: number;
  /** Send here instead of `$NOTIFY_SOCKET`. */
  socket?: string;
}

const kState = (socket: dgram.Socket): { handle?: { fd?: number } } | undefined => {
  // dgram keeps its handle behind a private symbol; its description is stable across Node 20+.
  const sym = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  return sym ? (socket as unknown as Record<symbol, { handle?: { fd?: number } }>)[sym] : undefined;
};

/** The fd behind a storable object, or a TypeError naming what it got. */
function fdOfTarget(target: StorableFd): number {
  let fd: unknown;
  let what: string;
  if (typeof target === 'number') {
    fd = target;
    what = 'fd';
  } else if (target instanceof net.Server) {
    fd = (target as unknown as { _handle?: { fd?: number } })._handle?.fd;
    what = 'net.Server (is it listening?)';
  } else if (target instanceof net.Socket) {
    fd = (target as unknown as { _handle?: { fd?: number } })._handle?.fd;
    what = 'net.Socket (is it connected?)';
  } else if (
    typeof target === 'object' &&
    target !== null &&
    'fd' in target &&
    typeof target.fd === 'number'
  ) {
    fd = target.fd; // fs.promises.FileHandle
    what = 'FileHandle (is it closed?)';
  } else if (typeof target === 'object' && target !== null && kState(target as dgram.Socket)) {
    fd = kState(target as dgram.Socket)!.handle?.fd;
    what = 'dgram.Socket (is it bound?)';
  } else {
    throw new TypeError(
      `storeFd(target): target must be an fd, a net.Server, a net.Socket, a dgram.Socket or a FileHandle, got ${describe(target)}`,
    );
  }
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    throw new TypeError(`storeFd(target): this ${what} has no file descriptor to store`);
  }
  return fd;
}

/**
 * Stores one fd in the manager's fd store under `name` (`FDSTORE=1`, `FDNAME=`, optional
 * `FDPOLL=0`). The fd stays open here too. It comes back to the next process of this service as a
 * listen fd named `name` (see {@link listenFds}). The unit needs `FileDescriptorStoreMax=` > 0, or
 * the manager drops it silently ({@link fdStoreStatus} tells, on systemd ≥ 254).
 *
 * @returns true sent, false not supervised.
 */
export function storeFd(target: StorableFd, options: StoreFdOptions): boolean {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(
      `storeFd(target, options): options with a name are required, got ${describe(options)}`,
    );
  }
  const { name, poll, pid, socket } = options;
  if (typeof name !== 'string')
    throw new TypeError(`storeFd: options.name must be a string, got ${describe(name)}`);
  checkFdName('storeFd: options.name', name);
  if (poll !== undefined && typeof poll !== 'boolean') {
    throw new TypeError(`storeFd: options.poll must be a boolean, got ${describe(poll)}`);
  }
  const fd = fdOfTarget(target);
  return notify({ fdStore: true, fdName: name, fdPoll: poll }, { fds: [fd], pid, socket });
}

/** Removes every stored fd named `name` (`FDSTOREREMOVE=1`, `FDNAME=`). */
export function removeFds(name: string, options?: { pid?: number; socket?: string }): boolean {
  if (typeof name !== 'string')
    throw new TypeError(`removeFds(name): name must be a string, got ${describe(name)}`);
  checkFdName('removeFds(name): name', name);
  return notify(
    { fdStoreRemove: true, fdName: name },
    { pid: options?.pid, socket: options?.socket },
  );
}

/**
 * Whether the fd store is on for this service: `enabled` (`$FDSTORE` > 0, set by systemd ≥ 254
 * from `FileDescriptorStoreMax=`), `disabled` (`$FDSTORE=0`), or `unknown` (unset: older
 * systemd, or not a service).
 */
export function fdStoreStatus(): 'enabled' | 'disabled' | 'unknown' {
  const v = process.env.FDSTORE;
  if (v === undefined || !/^[0-9]+$/.test(v)) return 'unknown';
  return Number(v) > 0 ? 'enabled' : 'disabled';
}

/** Per state name: the newest stored generation and older ones still to remove. */
const generations = new Map<string, { last: number; stale: Set<number> }>();

function stateName(fn: string, name: unknown): string {
  if (name === undefined) return 'state';
  if (typeof name !== 'string')
    throw new TypeError(`${fn}: options.name must be a string, got ${describe(name)}`);
  if (name.length === 0) throw new RangeError(`${fn}: options.name must not be empty`);
  // room for ".<generation>" within FDNAME's 255
  checkFdName(`${fn}: options.name`, `${name}.0000000000`);
  return name;
}

/**
 * Saves `data` in the fd store as a sealed memfd, the pattern sd_notify(3) recommends: each save
 * stores a new memfd under `<name>.<generation>` and then removes the previous generation (a
 * sealed memfd cannot be rewritten, and FDSTOREREMOVE removes a whole name). Restore it in the
 * next process with {@link restoreState}.
 *
 * @returns true sent, false not supervised.
 */
export function saveState(data: Uint8Array | string, options?: { name?: string }): boolean {
  const name = stateName('saveState', options?.name);
  let bytes: Buffer;
  if (typeof data === 'string') bytes = Buffer.from(data, 'utf8');
  else if (data instanceof Uint8Array)
    bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  else
    throw new TypeError(
      `saveState(data): data must be a Buffer, Uint8Array or string, got ${describe(data)}`,
    );
  if (process.env.NOTIFY_SOCKET === undefined || process.env.NOTIFY_SOCKET === '') return false;
  const binding = requireNative('saveState', process.env.NOTIFY_SOCKET);
  const gen = generations.get(name) ?? { last: 0, stale: new Set<number>() };
  const next = gen.last + 1;
  const fd = binding.memfdSealed(Buffer.from(`sdnotify:${name}`), bytes);
  if (fd < 0) throw transportError(fd, 'memfd_create', process.env.NOTIFY_SOCKET);
  try {
    notify({ fdStore: true, fdName: `${name}.${next}`, fdPoll: false }, { fds: [fd] });
  } finally {
    binding.closeFd(fd); // the manager holds its own copy now
  }
  if (gen.last > 0) gen.stale.add(gen.last);
  gen.last = next;
  generations.set(name, gen);
  for (const old of [...gen.stale]) {
    removeFds(`${name}.${old}`);
    gen.stale.delete(old);
  }
  return true;
}

/**
 * The newest state saved by {@link saveState} in an earlier life of this service, read from the
 * listen fds (default: {@link listenFds}()); undefined when there is none. Later saves continue
 * the generation count and remove what is restored.
 */
export function restoreState(options?: {
  name?: string;
  fds?: readonly ListenFd[];
}): Buffer | undefined {
  const name = stateName('restoreState', options?.name);
  const fds = options?.fds ?? listenFds();
  const pattern = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.([0-9]{1,10})$`);
  const found = fds
    .map((f) => ({ fd: f.fd, gen: Number(pattern.exec(f.name)?.[1] ?? NaN) }))
    .filter((f) => Number.isSafeInteger(f.gen))
    .sort((a, b) => b.gen - a.gen);
  if (found.length === 0) return undefined;
  const gen = generations.get(name) ?? { last: 0, stale: new Set<number>() };
  for (const f of found) gen.stale.add(f.gen);
  gen.last = Math.max(gen.last, found[0].gen);
  generations.set(name, gen);
  return readFdContents(found[0].fd);
}
