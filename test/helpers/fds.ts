/** File descriptor helpers: counting our open fds, naming an fd's identity, making test fds. */
import { spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

import { killOnExit } from './env';

/** How many fds this process has open: entries of /proc/self/fd (the one readdir uses is counted every time). */
export function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** The (dev, ino) pair that identifies the open file behind `fd`, as the kernel sees it. */
export function fileIdentity(fd: number): { dev: number; ino: number } {
  const st = fs.fstatSync(fd);
  return { dev: st.dev, ino: st.ino };
}

/**
 * Opens `n` distinct temp files (each its own inode) and returns their fds plus a cleanup that
 * closes them and removes the directory.
 */
export function openTempFiles(n: number): { fds: number[]; close(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sdn-fds-${randomBytes(3).toString('hex')}-`));
  const fds: number[] = [];
  for (let i = 0; i < n; i++) fds.push(fs.openSync(path.join(dir, `f${i}`), 'w+'));
  let closed = false;
  return {
    fds,
    // Idempotent: closing a number twice could close whatever reused it in between.
    close() {
      if (closed) return;
      closed = true;
      for (const fd of fds) {
        try {
          fs.closeSync(fd);
        } catch {
          /* already closed */
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An fd on /dev/null (a character device, not a regular file). */
export function openDevNull(): number {
  return fs.openSync('/dev/null', 'r');
}

/** Closes `fd` once; later calls do nothing (a reused fd number is never closed by mistake). */
export function closerOf(fd: number): () => void {
  let closed = false;
  return () => {
    if (closed) return;
    closed = true;
    fs.closeSync(fd);
  };
}

/** A pid that exists and is not ours: a `sleep` child. kill() it when done. */
export function liveOtherPid(): ChildProcess & { pid: number } {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  if (child.pid === undefined) throw new Error('could not spawn sleep');
  child.unref();
  killOnExit(child);
  return child as ChildProcess & { pid: number };
}

/** A pid that no process has right now (the kernel refuses it in SCM_CREDENTIALS with ESRCH). */
export function unusedPid(): number {
  const max = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  for (let pid = max - 1; pid > 1; pid--) {
    if (!fs.existsSync(`/proc/${pid}`)) return pid;
  }
  throw new Error('no unused pid');
}

/**
 * Whether this process may put another pid in SCM_CREDENTIALS (CAP_SYS_ADMIN). Without it the
 * kernel refuses and senders retry with their own credentials, as libsystemd does.
 */
export function canSendForOtherPid(): boolean {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  const CAP_SYS_ADMIN = 21n;
  return m !== null && ((BigInt(`0x${m[1]}`) >> CAP_SYS_ADMIN) & 1n) === 1n;
}
