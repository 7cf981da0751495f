// The raw addon: its typed interface and the loader that keeps the reason it failed.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { SdNotifyError } from '../errors';

/** What `binding/` exports. Numbers are byte counts or minus errno; nothing here throws but TypeError. */
export interface NativeBinding {
  libsystemdInfo(): {
    loaded: boolean;
    error: string | null;
    path: string | null;
    symbols: { sd_notify: boolean; sd_pid_notify: boolean; sd_pid_notify_with_fds: boolean };
  };
  /** `probe`: the AF_UNIX sun_path to check for queue room first (null: no check, e.g. vsock). */
  sdNotify(unset: boolean, state: Uint8Array, probe: Uint8Array | null): number;
  sdPidNotify(pid: number, unset: boolean, state: Uint8Array, probe: Uint8Array | null): number;
  sdPidNotifyWithFds(
    pid: number,
    unset: boolean,
    state: Uint8Array,
    fds: Int32Array | null,
    probe: Uint8Array | null,
  ): number;
  getenv(name: string): string | undefined;
  sendUnix(
    address: Uint8Array,
    data: Uint8Array,
    fds: Int32Array | null,
    /** [pid, uid, gid] for SCM_CREDENTIALS (the pid's bits as pid_t). */
    cred: Uint32Array | null,
  ): number;
  /** 1 room in the receiver's queue, 0 full, < 0 -errno (the libsystemd backend's guard). */
  probeUnix(address: Uint8Array): number;
  /** [readFd, writeFd] of a pipe2(O_CLOEXEC), or -errno. */
  pipeCloexec(): Int32Array | number;
  /** close(fd): 0 or -errno (fs.closeSync warns in workers about fds Node did not open). */
  closeFd(fd: number): number;
  /** 1 if the pipe's writers are all gone (POLLHUP), 0 if not yet, -errno; never waits. */
  hungUp(fd: number): number;
  /** A close-on-exec memfd holding data, sealed against change, or -errno. */
  memfdSealed(name: Uint8Array, data: Uint8Array): number;
  /** FD_CLOEXEC on: 0 or -errno. */
  setCloexec(fd: number): number;
  /** fstat and socket options of an fd (socket fields -1 when not a socket), or -errno. */
  fdInfo(
    fd: number,
  ): { mode: number; size: number; soType: number; soDomain: number; acceptConn: number } | number;
  /** A close-on-exec AF_UNIX stream socket bound (natively) and listening, or -errno. */
  listenUnix(address: Uint8Array, backlog: number): number;
  bindUnix(address: Uint8Array): number;
  recvUnix(fd: number): ReceivedDatagram | null | number;
}

/** One datagram as the binding received it. */
export interface ReceivedDatagram {
  data: Buffer;
  pid: number | null;
  uid: number | null;
  gid: number | null;
  fds: number[];
  truncated: boolean;
}

const EXPECTED: readonly (keyof NativeBinding)[] = [
  'libsystemdInfo',
  'sdNotify',
  'sdPidNotify',
  'sdPidNotifyWithFds',
  'getenv',
  'sendUnix',
  'probeUnix',
  'pipeCloexec',
  'closeFd',
  'hungUp',
  'memfdSealed',
  'setCloexec',
  'fdInfo',
  'listenUnix',
  'bindUnix',
  'recvUnix',
];

/**
 * The package root: the nearest directory above this file with sdnotify's package.json (this
 * file runs from lib/backend under ts-jest, dist/backend, or the one-file bundle in dist/).
 */
export function packageRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
      };
      if (pkg.name === 'sdnotify') return dir;
    } catch {
      // no package.json here: look higher
    }
    if (path.dirname(dir) === dir) return path.resolve(__dirname, '..', '..');
  }
}

export type LoadResult =
  { ok: true; binding: NativeBinding; path: string } | { ok: false; error: Error };

/**
 * Loads the addon: `SDNOTIFY_ADDON_PATH` when set (bundlers, single-executable apps), else a
 * prebuild or local build found by node-gyp-build. Never throws.
 */
export function loadNative(env: NodeJS.ProcessEnv = process.env): LoadResult {
  try {
    let file: string;
    let binding: unknown;
    const explicit = env.SDNOTIFY_ADDON_PATH;
    if (explicit) {
      file = path.resolve(explicit);
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a .node file loads only through require()
      binding = require(file);
    } else {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const nodeGypBuild = require('node-gyp-build') as {
        (dir: string): unknown;
        resolve(dir: string): string;
      };
      file = nodeGypBuild.resolve(packageRoot());
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a .node file loads only through require()
      binding = require(file);
    }
    const missing = EXPECTED.filter(
      (k) => typeof (binding as Record<string, unknown>)[k] !== 'function',
    );
    if (missing.length > 0) {
      throw new Error(
        `the addon at ${file} lacks ${missing.join(', ')}: it is from another version; rebuild it (npm run build:native)`,
      );
    }
    return { ok: true, binding: binding as NativeBinding, path: file };
  } catch (e) {
    // node-gyp-build's message ends in a newline; keep messages one clean line.
    const error = e instanceof Error ? e : new Error(String(e));
    error.message = error.message.trim();
    return { ok: false, error };
  }
}

/**
 * The addon, for a feature that cannot work without it (listen fds, memfd state, the test kit):
 * throws SdNotifyError `ERR_SDNOTIFY_NO_TRANSPORT` naming `what` and why the addon did not load.
 */
export function requireNative(what: string, address?: string): NativeBinding {
  const loaded = loadNative();
  if (loaded.ok) return loaded.binding;
  throw new SdNotifyError(`${what} needs the native addon: ${loaded.error.message}`, {
    code: 'ERR_SDNOTIFY_NO_TRANSPORT',
    hint: 'build the addon with `npm rebuild sdnotify` (`npm run build:native` in a clone); that needs cmake and a C++ compiler',
    address,
    cause: loaded.error,
  });
}
