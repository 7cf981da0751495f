/**
 * Children started the way systemd starts a service: the fds to hand over are fds 3, 4, … (passed
 * through spawn's stdio slots, so they really exist there and are inherited without FD_CLOEXEC),
 * and LISTEN_PID is the child's own pid. That pid is unknown before spawn, so a shell sets
 * `LISTEN_PID=$$` and `exec`s the program, which keeps the pid.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

import { killOnExit } from './env';
import { ROOT } from './node-child';

export interface ListenChildOptions {
  /** Our fds; the i-th becomes fd 3 + i in the child. */
  fds?: number[];
  /**
   * LISTEN_PID: 'self' (the default) is the child's own pid, set by the shell before exec; a
   * string is used as given; undefined leaves it unset.
   */
  listenPid?: string | undefined;
  /** More environment (LISTEN_FDS, LISTEN_FDNAMES, …); undefined values are unset. */
  env?: Record<string, string | undefined>;
}

/** A node child's prelude: `sdnotify` (the built package) and `out(value)` (one JSON line). */
const NODE_PRELUDE = `const sdnotify = require(${JSON.stringify(ROOT)}); const out = (v) => process.stdout.write(JSON.stringify(v) + '\\n');\n`;

/** A python child's prelude: `out(value)` (one JSON line, flushed). */
const PYTHON_PRELUDE =
  'import json, os, sys\n' +
  'def out(v):\n' +
  '    sys.stdout.write(json.dumps(v) + "\\n")\n' +
  '    sys.stdout.flush()\n';

export type ChildLanguage = 'node' | 'python';

function environment(opts: ListenChildOptions): Record<string, string> {
  const base: Record<string, string | undefined> = { ...process.env };
  for (const k of [
    'NOTIFY_SOCKET',
    'SDNOTIFY_BACKEND',
    'SDNOTIFY_ADDON_PATH',
    'NODE_DEBUG',
    'LISTEN_PID',
    'LISTEN_FDS',
    'LISTEN_FDNAMES',
    'FDSTORE',
  ])
    delete base[k];
  const listenPid = 'listenPid' in opts ? opts.listenPid : 'self';
  if (listenPid !== undefined && listenPid !== 'self') base.LISTEN_PID = listenPid;
  const merged: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...base, ...opts.env })) if (v !== undefined) merged[k] = v;
  return merged;
}

/** Spawns `code` (node or python3) with the fds as 3, 4, …; stdin is a pipe the child may watch. */
export function spawnListenChild(
  language: ChildLanguage,
  code: string,
  opts: ListenChildOptions = {},
): ChildProcess {
  const listenPid = 'listenPid' in opts ? opts.listenPid : 'self';
  const program = language === 'node' ? process.execPath : 'python3';
  const source = language === 'node' ? NODE_PRELUDE + code : PYTHON_PRELUDE + code;
  const script =
    listenPid === 'self' ? 'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"' : 'exec "$0" "$@"';
  const child = spawn(
    '/bin/sh',
    ['-c', script, program, language === 'node' ? '-e' : '-c', source],
    {
      env: environment(opts),
      stdio: ['pipe', 'pipe', 'pipe', ...(opts.fds ?? [])],
    },
  );
  killOnExit(child);
  return child;
}

export interface ListenChildResult {
  status: number | null;
  stderr: string;
  /** Every line the child printed with out(), parsed. */
  results: unknown[];
}

/** Runs a child to its end and collects what it printed. */
export function runListenChild(
  language: ChildLanguage,
  code: string,
  opts: ListenChildOptions = {},
  timeoutMs = 10000,
): Promise<ListenChildResult> {
  const child = spawnListenChild(language, code, opts);
  child.stdin!.end();
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${language} child did not finish within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      try {
        const results = stdout
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as unknown);
        resolve({ status, stderr, results });
      } catch (e) {
        reject(
          new Error(
            `${language} child printed something unexpected: ${stdout} ${stderr} (${String(e)})`,
          ),
        );
      }
    });
  });
}

/**
 * A long-running child: `next()` resolves with each line it prints with out(); `stop()` ends its
 * stdin (the child is expected to exit then) and waits for it.
 */
export class LiveChild {
  readonly child: ChildProcess;
  private readonly lines: unknown[] = [];
  private waiters: Array<(v: unknown) => void> = [];
  private stderrText = '';
  private exitInfo: string | undefined;

  constructor(language: ChildLanguage, code: string, opts: ListenChildOptions = {}) {
    this.child = spawnListenChild(language, code, opts);
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderrText += s));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const v = JSON.parse(line) as unknown;
      const w = this.waiters.shift();
      if (w) w(v);
      else this.lines.push(v);
    });
    this.child.once('exit', (code, signal) => {
      this.exitInfo = `exited (code ${code}, signal ${signal})`;
    });
  }

  get stderr(): string {
    return this.stderrText;
  }

  /** The next line printed, parsed; rejects after `timeoutMs` saying what the child wrote to stderr. */
  next<T = Record<string, unknown>>(timeoutMs = 5000): Promise<T> {
    if (this.lines.length > 0) return Promise.resolve(this.lines.shift() as T);
    return new Promise<T>((resolve, reject) => {
      const waiter = (v: unknown) => {
        clearTimeout(timer);
        resolve(v as T);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new Error(
            `the child printed nothing within ${timeoutMs} ms (${this.exitInfo ?? 'still running'}): ${this.stderrText}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Closes the child's stdin and waits for it to exit (SIGKILL after 3 s); its exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((r) => this.child.once('exit', (code) => r(code)));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
}
