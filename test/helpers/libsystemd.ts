/**
 * The reference sender: the host's real libsystemd, called through python3 ctypes
 * (test/helpers/libsystemd.py). One python process sends a whole batch.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';

const SCRIPT = path.join(__dirname, 'libsystemd.py');

export interface LibsystemdCase {
  /** NOTIFY_SOCKET for this call; null leaves it unset. */
  notifySocket: string | null;
  /** The pid argument; 'self' is the sending python process's own pid. */
  pid: number | 'self';
  state: Buffer;
  /** Our fds: handed to the child through spawn's stdio slots and renumbered there. */
  fds: number[];
  unsetEnvironment?: boolean;
  /**
   * Call sd_notify_barrier(unset, this) instead (µs; 2^64-1 is infinite): the python process
   * blocks in poll() until the peer closes the fd, so the peer must read while it waits.
   * `pid`, `state` and `fds` are then unused.
   */
  barrierTimeoutUsec?: number | bigint;
}

export interface LibsystemdResult {
  /** What sd_pid_notify_with_fds returned. */
  rc: number;
  /** The pid of the process that called libsystemd. */
  senderPid: number;
  /** NOTIFY_SOCKET after the call (null when unset). */
  envAfter: string | null;
  /** How long the libsystemd call took, in ms (python's monotonic clock). */
  elapsedMs: number;
}

export function libsystemdSend(cases: LibsystemdCase[]): Promise<LibsystemdResult[]> {
  // Every distinct fd of the batch gets one stdio slot; slot i is fd i in the child.
  const slots = new Map<number, number>();
  const extra: number[] = [];
  for (const c of cases) {
    for (const fd of c.fds) {
      if (!slots.has(fd)) {
        slots.set(fd, 3 + extra.length);
        extra.push(fd);
      }
    }
  }
  const payload = cases.map((c) => ({
    notifySocket: c.notifySocket,
    pid: c.pid,
    unset: c.unsetEnvironment ?? false,
    state: c.state.toString('base64'),
    fds: c.fds.map((fd) => slots.get(fd)!),
    ...(c.barrierTimeoutUsec === undefined
      ? {}
      : { barrierTimeoutUsec: BigInt(c.barrierTimeoutUsec).toString() }),
  }));

  const env = { ...process.env };
  delete env.NOTIFY_SOCKET;
  const child = spawn('python3', [SCRIPT], { stdio: ['pipe', 'pipe', 'pipe', ...extra], env });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  child.stdin!.end(JSON.stringify(payload));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) {
        reject(new Error(`libsystemd.py exited with ${code}: ${err}`));
        return;
      }
      try {
        resolve(JSON.parse(out) as LibsystemdResult[]);
      } catch (e) {
        reject(
          new Error(`libsystemd.py printed something unexpected: ${out} ${err} (${String(e)})`),
        );
      }
    });
  });
}
