// Picks the backend once, lazily, on the first call that needs to send, and keeps the reason.
import type { NotifyAddress } from '../address';
import { debug } from '../debug';
import { createBuiltinBackend } from './builtin';
import { createLibsystemdBackend } from './libsystemd';
import { loadNative, type NativeBinding } from './native';
import type { Backend, BackendName, SendResult } from './types';

/** Which backend sends, and why. */
export interface BackendInfo {
  /** `libsystemd`, `builtin`, or `none` when the native addon could not be loaded. */
  readonly name: BackendName;
  /** One sentence: why this backend. */
  readonly reason: string;
  /** True when `SDNOTIFY_BACKEND` chose it. */
  readonly forced: boolean;
  /** The addon file that was loaded. */
  readonly addonPath: string | undefined;
  /** The libsystemd that was loaded, when it was. */
  readonly libsystemdPath: string | undefined;
  /** Why the addon (for `none`) or libsystemd (for `builtin`) is not in use. */
  readonly error: Error | undefined;
}

interface Selection {
  info: BackendInfo;
  /** For `none`: what to do about it. */
  hint?: string;
  primary: Backend | undefined;
  builtin: Backend | undefined;
  binding: NativeBinding | undefined;
}

let selection: Selection | undefined;

// node:worker_threads costs more to load (1.4 ms) than the rest of the package: only a send asks.
let mainThread: boolean | undefined;
function isMainThread(): boolean {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  mainThread ??= (require('node:worker_threads') as typeof import('node:worker_threads'))
    .isMainThread;
  return mainThread;
}

function choose(): Selection {
  const forcedRaw = process.env.SDNOTIFY_BACKEND;
  const forced = forcedRaw === undefined || forcedRaw === '' ? undefined : forcedRaw;
  const base = { forced: forced !== undefined, addonPath: undefined, libsystemdPath: undefined };
  if (forced !== undefined && forced !== 'libsystemd' && forced !== 'builtin') {
    const error = new Error(`SDNOTIFY_BACKEND=${forced} is not "libsystemd" or "builtin"`);
    return {
      info: { ...base, name: 'none', reason: error.message, error },
      hint: 'set SDNOTIFY_BACKEND to "libsystemd" or "builtin", or unset it to let sdnotify choose',
      primary: undefined,
      builtin: undefined,
      binding: undefined,
    };
  }
  const loaded = loadNative();
  if (!loaded.ok) {
    return {
      info: {
        ...base,
        name: 'none',
        reason: `the native addon could not be loaded: ${loaded.error.message}`,
        error: loaded.error,
      },
      hint: 'the native addon is needed to send: build it with `npm rebuild sdnotify` in your project (`npm run build:native` in a clone of sdnotify); that needs cmake and a C++ compiler (Debian: apt-get install cmake g++ make)',
      primary: undefined,
      builtin: undefined,
      binding: undefined,
    };
  }
  const binding = loaded.binding;
  const builtin = createBuiltinBackend(binding);
  const withAddon = { ...base, addonPath: loaded.path };
  if (forced === 'builtin') {
    return {
      info: {
        ...withAddon,
        name: 'builtin',
        reason: 'forced by SDNOTIFY_BACKEND=builtin',
        error: undefined,
      },
      primary: builtin,
      builtin,
      binding,
    };
  }
  const lib = binding.libsystemdInfo();
  const libPath = lib.path ?? undefined;
  if (lib.loaded && lib.symbols.sd_pid_notify_with_fds) {
    const reason = forced
      ? 'forced by SDNOTIFY_BACKEND=libsystemd'
      : `${libPath ?? 'libsystemd.so.0'} provides sd_pid_notify_with_fds`;
    return {
      info: { ...withAddon, libsystemdPath: libPath, name: 'libsystemd', reason, error: undefined },
      primary: createLibsystemdBackend(binding),
      builtin,
      binding,
    };
  }
  const why = lib.loaded
    ? `${libPath ?? 'libsystemd.so.0'} lacks sd_pid_notify_with_fds (systemd < 219)`
    : `libsystemd.so.0 could not be loaded: ${lib.error ?? 'unknown error'}`;
  const error = new Error(why);
  if (forced === 'libsystemd') {
    return {
      info: {
        ...withAddon,
        name: 'none',
        reason: `SDNOTIFY_BACKEND=libsystemd, but ${why}`,
        error,
      },
      hint: 'install libsystemd0 (systemd >= 219), or unset SDNOTIFY_BACKEND to use the builtin protocol',
      primary: undefined,
      builtin: undefined,
      binding,
    };
  }
  return {
    info: { ...withAddon, name: 'builtin', reason: `${why}; using the builtin protocol`, error },
    primary: builtin,
    builtin,
    binding,
  };
}

function selected(): Selection {
  if (selection === undefined) {
    selection = choose();
    debug('backend %s: %s', selection.info.name, selection.info.reason);
  }
  return selection;
}

/** The backend in use and why. The first call loads the native addon. */
export function backendInfo(): BackendInfo {
  return selected().info;
}

/** The loaded addon (undefined on the `none` backend), for the syscalls beyond sending. */
export function nativeBinding(): NativeBinding | undefined {
  return selected().binding;
}

/** For the `none` backend: one line saying what to do about it. */
export function noTransportHint(): string {
  return selected().hint ?? '';
}

/**
 * Sends one datagram through the selected backend. `fromEnv` says the address came from this
 * thread's `process.env.NOTIFY_SOCKET`; libsystemd reads the C environment instead, so when the
 * two may differ (a worker thread, an explicit socket) the builtin backend sends that message.
 * Returns undefined on the `none` backend.
 */
export function transmit(
  address: NotifyAddress,
  data: Buffer,
  pid: number,
  fds: readonly number[],
  fromEnv: boolean,
): SendResult | undefined {
  const sel = selected();
  let backend = sel.primary;
  if (backend === undefined) return undefined;
  if (
    backend.name === 'libsystemd' &&
    (!fromEnv || !isMainThread() || sel.binding!.getenv('NOTIFY_SOCKET') !== address.value)
  ) {
    debug(
      "NOTIFY_SOCKET seen by libsystemd differs from this call's; sending with the builtin backend",
    );
    backend = sel.builtin!;
  }
  return backend.send({ address, data, pid, fds });
}
