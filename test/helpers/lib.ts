/**
 * Loading the library with a forced backend. The backend is chosen once per module instance, on
 * first use, so each call gets its own module registry (jest.isolateModules) and the choice is
 * made at once, while SDNOTIFY_BACKEND names the wanted backend.
 */
import * as path from 'node:path';
import { setEnv } from './env';

export type Lib = typeof import('../../lib');
export type ForcedBackend = 'libsystemd' | 'builtin';
export const BACKENDS: readonly ForcedBackend[] = ['libsystemd', 'builtin'];

export function loadLib(backend: ForcedBackend): Lib {
  const before = process.env.SDNOTIFY_BACKEND;
  setEnv('SDNOTIFY_BACKEND', backend);
  try {
    let lib: Lib | undefined;
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      lib = require('../../lib') as Lib;
    });
    const info = lib!.backendInfo();
    if (info.name !== backend) {
      throw new Error(`SDNOTIFY_BACKEND=${backend} gave the ${info.name} backend: ${info.reason}`);
    }
    return lib!;
  } finally {
    setEnv('SDNOTIFY_BACKEND', before);
  }
}

/** The raw addon object the lib uses (node caches native modules: one object per process). */
export interface RawBinding {
  sdNotify: (...args: unknown[]) => number;
  sdPidNotify: (...args: unknown[]) => number;
  sdPidNotifyWithFds: (...args: unknown[]) => number;
  sendUnix: (...args: unknown[]) => number;
  probeUnix: (...args: unknown[]) => number;
  getenv: (name: string) => string | undefined;
}

export function rawBinding(): RawBinding {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(nodeGypBuild.resolve(path.resolve(__dirname, '..', '..'))) as RawBinding;
}

const LIBSYSTEMD_CALLS = ['sdNotify', 'sdPidNotify', 'sdPidNotifyWithFds'] as const;

/**
 * Counts which native path each send takes: one of libsystemd's sd_*notify* functions or the
 * builtin sendmsg. Proves that a "libsystemd" suite really sent through libsystemd.
 */
export function countRoutes(): { libsystemd: number; builtin: number; restore(): void } {
  const b = rawBinding();
  const originals = LIBSYSTEMD_CALLS.map((name) => [name, b[name]] as const);
  const origSend = b.sendUnix;
  const counts = {
    libsystemd: 0,
    builtin: 0,
    restore() {
      for (const [name, fn] of originals) b[name] = fn;
      b.sendUnix = origSend;
    },
  };
  for (const [name, fn] of originals) {
    b[name] = (...args: unknown[]) => {
      counts.libsystemd += 1;
      return fn.apply(b, args);
    };
  }
  b.sendUnix = (...args: unknown[]) => {
    counts.builtin += 1;
    return origSend.apply(b, args);
  };
  return counts;
}
