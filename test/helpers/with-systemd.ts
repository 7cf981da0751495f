// A real systemd manager for end-to-end tests, driven through ../shared/tools/with-systemd.
//
// Each manager gets its own state dir (/run/sdnotify-e2e.<owner pid>.<random>): with-systemd keys
// its cgroup on that path, so managers of parallel jest workers run side by side (measured: two
// at once, ~0.3 s to boot each). A manager whose owner died (a killed jest worker) is taken down
// by the next startManager().
//
// Typical file:
//
//   describeWithSystemd('my service under systemd', () => {
//     const manager = useManager();
//     test('becomes active', async () => {
//       await manager().install('x.service', unitFile({ Service: { Type: 'notify', ExecStart: ... } }));
//       await manager().start('x.service');
//       await manager().waitFor('x.service', { ActiveState: 'active' });
//     });
//   });
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository's root (this file is test/helpers/with-systemd.ts). */
export const repoRoot = path.resolve(__dirname, '..', '..');

/** Where a manager's processes cannot read host files: with-systemd mounts private ones there. */
const PRIVATE_DIRS = ['/tmp', '/var/tmp'];
const STATE_PREFIX = 'sdnotify-e2e.';
const STATE_PARENT = '/run';

// ---------------------------------------------------------------- finding the tool, deciding to skip

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function toolCandidates(): string[] {
  const fromPath = (process.env.PATH ?? '')
    .split(':')
    .filter(Boolean)
    .map((d) => path.join(d, 'with-systemd'));
  return [
    ...(process.env.WITH_SYSTEMD ? [process.env.WITH_SYSTEMD] : []),
    path.resolve(repoRoot, '..', 'shared', 'tools', 'with-systemd'),
    ...fromPath,
  ];
}

/** The with-systemd script: `$WITH_SYSTEMD`, else `<repo>/../shared/tools/with-systemd`, else `$PATH`. */
export function withSystemdTool(): string | undefined {
  return toolCandidates().find(executable);
}

export type Availability = { ok: true } | { ok: false; reason: string };

let availability: Availability | undefined;

/**
 * Whether this machine can host a manager (`with-systemd check`, cached per test file).
 * Exit 77 means "cannot, and here is why"; any other failure is a real error and throws.
 */
export function systemdAvailable(): Availability {
  if (availability) return availability;
  const tool = withSystemdTool();
  if (!tool) {
    return (availability = {
      ok: false,
      reason:
        `the with-systemd tool (it boots a private systemd manager for these tests; CI has it at ` +
        `../shared/tools/ beside the clone) is not at ${toolCandidates()[0]} nor on PATH; ` +
        `set WITH_SYSTEMD=/path/to/with-systemd to run them`,
    });
  }
  // check may apt-get install util-linux bits on a fresh machine: give it time.
  const r = spawnSync(tool, ['check'], { encoding: 'utf8', timeout: 300_000 });
  if (r.error) throw new Error(`${tool} check could not run: ${r.error.message}`);
  if (r.status === 0) return (availability = { ok: true });
  const said = `${r.stderr}${r.stdout}`.trim();
  if (r.status === 77)
    return (availability = { ok: false, reason: said || 'with-systemd check exited 77' });
  throw new Error(`${tool} check failed (exit ${r.status ?? `signal ${r.signal}`}): ${said}`);
}

function truthyEnv(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}

/**
 * True when a missing manager must fail the run rather than skip it: on CI as root (CI runs the
 * e2e suites for real), or when SDNOTIFY_E2E=require.
 */
export function systemdRequired(): boolean {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  return (truthyEnv(process.env.CI) && root) || process.env.SDNOTIFY_E2E === 'require';
}

let warned = false;

/**
 * `describe` for suites that need a real manager. Where none can run: the reason is printed once
 * and the suite is skipped, except when {@link systemdRequired} — then one test fails with it.
 */
export function describeWithSystemd(name: string, fn: () => void): void {
  const a = systemdAvailable();
  if (a.ok) {
    describe(name, fn);
    return;
  }
  if (systemdRequired()) {
    describe(name, () => {
      test('can host a real systemd manager (required: CI as root, or SDNOTIFY_E2E=require)', () => {
        throw new Error(`end-to-end tests must run here but cannot: ${a.reason}`);
      });
    });
    return;
  }
  if (!warned) {
    warned = true;
    console.warn(`skipping end-to-end tests under a real systemd: ${a.reason}`);
  }
  describe.skip(name, fn);
}

// ---------------------------------------------------------------- processes

export interface ExecResult {
  /** Exit status; -1 when killed by a signal. */
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion. Never rejects for its exit status; rejects if it cannot start or
 * outlives `timeoutMs` (then its whole process group is killed: `with-systemd exec` leaves an
 * nsenter child behind when only the script is signalled).
 */
function run(
  file: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(
          new Error(
            `${[file, ...args].join(' ')}: timed out after ${timeoutMs} ms\n${stderr}${stdout}`,
          ),
        );
      } else {
        resolve({ code: code ?? -1, signal, stdout, stderr });
      }
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes down managers left by test processes that died before their afterAll. */
export function reapStaleManagers(): string[] {
  const tool = withSystemdTool();
  if (!tool) return [];
  const reaped: string[] = [];
  let names: string[] = [];
  try {
    names = fs.readdirSync(STATE_PARENT);
  } catch {
    return [];
  }
  for (const name of names) {
    const m = /^sdnotify-e2e\.(\d+)\.[0-9a-f]+$/.exec(name);
    if (!m || isAlive(Number(m[1]))) continue;
    const dir = path.join(STATE_PARENT, name);
    spawnSync(tool, ['down'], {
      env: { ...process.env, WITH_SYSTEMD_DIR: dir },
      stdio: 'ignore',
      timeout: 60_000,
    });
    reaped.push(dir);
  }
  return reaped;
}

// ---------------------------------------------------------------- unit files

/** Host directories under /tmp or /var/tmp that a started manager was given (WITH_SYSTEMD_RW). */
const sharedIntoManagers = new Set<string>();

const within = (p: string, dir: string): boolean => p === dir || p.startsWith(`${dir}/`);

/**
 * True when processes of a manager can read this host path: not under its private /tmp or
 * /var/tmp, or under a directory shared into it (a clone under /tmp shares the repository).
 */
export function visibleToManager(hostPath: string): boolean {
  const p = path.resolve(hostPath);
  return !underPrivateDir(p) || [...sharedIntoManagers].some((d) => within(p, d));
}

const underPrivateDir = (p: string): boolean =>
  PRIVATE_DIRS.some((d) => within(path.resolve(p), d));

function unitQuote(value: string, what: string): string {
  if (/[\n\r\0]/.test(value))
    throw new Error(`${what}: ${JSON.stringify(value)} holds a newline or NUL`);
  // Backslash escapes, then specifiers (%) are expanded by systemd when it reads the file.
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%')}"`;
}

/** An `ExecStart=` command line for argv, quoted so any path or argument survives ($ and % too). */
export function execLine(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('execLine: empty argv');
  return argv.map((a) => unitQuote(a, 'ExecStart argument').replace(/\$/g, '$$$$')).join(' ');
}

/** `ExecStart=` running a node script with this test's node binary (`process.execPath`). */
export function nodeExecStart(script: string, args: readonly string[] = []): string {
  for (const p of [process.execPath, script]) {
    if (!visibleToManager(p)) {
      throw new Error(
        `${p} is under ${PRIVATE_DIRS.join(' or ')}, which units cannot see: share it with startManager({ share })`,
      );
    }
  }
  return execLine([process.execPath, script, ...args]);
}

/** `Environment=` values (one quoted `NAME=value` each). */
export function environment(vars: Record<string, string>): string[] {
  return Object.entries(vars).map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
      throw new Error(`Environment: bad variable name ${JSON.stringify(k)}`);
    return unitQuote(`${k}=${v}`, 'Environment');
  });
}

export type UnitValue = string | number | boolean;

/** Renders `{ Unit: {...}, Service: {...} }` as a unit file; an array value repeats its key. */
export function unitFile(
  sections: Record<string, Record<string, UnitValue | readonly UnitValue[] | undefined>>,
): string {
  const out: string[] = [];
  for (const [section, entries] of Object.entries(sections)) {
    out.push(`[${section}]`);
    for (const [key, value] of Object.entries(entries)) {
      if (value === undefined) continue;
      const values: readonly UnitValue[] = Array.isArray(value) ? value : [value as UnitValue];
      for (const v of values) {
        const s = typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v);
        if (/[\n\r]/.test(s)) throw new Error(`[${section}] ${key}= holds a newline`);
        out.push(`${key}=${s}`);
      }
    }
    out.push('');
  }
  return out.join('\n');
}

// ---------------------------------------------------------------- the manager

/** Properties that {@link Manager.waitFor} fetches (and shows on failure) besides the asked ones. */
export const DEFAULT_PROPS = [
  'LoadState',
  'ActiveState',
  'SubState',
  'Result',
  'MainPID',
  'StatusText',
  'StatusErrno',
  'ExecMainCode',
  'ExecMainStatus',
  'NRestarts',
];

export type Expected = Record<string, string | RegExp>;
export type Props = Record<string, string>;

export interface ManagerOptions {
  /** An extracted systemd tree (`with-systemd fetch-sysroot DIR`) to run instead of the host's. */
  sysroot?: string;
  /** Host directories units may write (`WITH_SYSTEMD_RW`). */
  rw?: string[];
  /**
   * Host paths units must read. Those under /tmp or /var/tmp (hidden inside) are shared through
   * `WITH_SYSTEMD_RW`. Default: the repository and the directory of `process.execPath`.
   */
  share?: string[];
  /** Timeout of `with-systemd up`/`down` in seconds (`WITH_SYSTEMD_TIMEOUT`, default 30). */
  timeoutSec?: number;
}

export interface StartOptions {
  /** `systemctl start --no-block`: return once the job is queued. */
  noBlock?: boolean;
  /** Resolve with the failed result instead of throwing (e.g. a start that must time out). */
  allowFailure?: boolean;
  timeoutMs?: number;
}

function formatProps(p: Props): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

function matches(props: Props, expected: Expected): boolean {
  return Object.entries(expected).every(([k, want]) =>
    typeof want === 'string' ? props[k] === want : want.test(props[k] ?? ''),
  );
}

export class Manager {
  /** Host pid of the manager (PID 1 inside its namespaces). */
  readonly pid1: number;
  /** systemd's version number (252 on Debian 12). */
  readonly version: number;
  private stopped = false;

  constructor(
    readonly tool: string,
    /** Its state dir (`WITH_SYSTEMD_DIR`). */
    readonly dir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    const state = Object.fromEntries(
      fs
        .readFileSync(path.join(dir, 'state'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    this.pid1 = Number(state.PID1);
    this.version = Number(state.VERSION);
  }

  /** Where unit files go. */
  get unitDir(): string {
    return path.join(this.dir, 'units');
  }

  /** Runs a command inside the manager's namespaces (`with-systemd exec`); never rejects on exit status. */
  exec(args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<ExecResult> {
    if (this.stopped) return Promise.reject(new Error(`manager ${this.dir} was stopped`));
    return run(this.tool, ['exec', '--', ...args], this.env, opts.timeoutMs ?? 30_000);
  }

  /** `systemctl ARGS...`; throws with its output when it fails. */
  async systemctl(...args: string[]): Promise<string> {
    const r = await this.exec(['systemctl', ...args]);
    if (r.code !== 0)
      throw new Error(`systemctl ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /** Writes a unit file into the unit dir and reloads the manager. */
  async install(unitName: string, unitText: string): Promise<void> {
    if (!/^[A-Za-z0-9:_.@\\-]+\.(service|socket|target|timer|path|slice|mount)$/.test(unitName)) {
      throw new Error(`install: bad unit name ${JSON.stringify(unitName)}`);
    }
    fs.writeFileSync(path.join(this.unitDir, unitName), unitText, { mode: 0o644 });
    await this.systemctl('daemon-reload');
  }

  /** Removes a unit file (stopping the unit and forgetting its failure first). */
  async uninstall(unitName: string): Promise<void> {
    await this.exec(['systemctl', 'stop', unitName]);
    await this.exec(['systemctl', 'reset-failed', unitName]);
    fs.rmSync(path.join(this.unitDir, unitName), { force: true });
    await this.systemctl('daemon-reload');
  }

  /**
   * `systemctl start` (blocking until the start job ends: for `Type=notify`, until `READY=1` or
   * failure). A failure throws with the unit's status and journal unless `allowFailure`.
   */
  async start(unit: string, opts: StartOptions = {}): Promise<ExecResult> {
    const args = ['systemctl', 'start', ...(opts.noBlock ? ['--no-block'] : []), unit];
    const r = await this.exec(args, { timeoutMs: opts.timeoutMs ?? 30_000 });
    if (r.code !== 0 && !opts.allowFailure) {
      throw new Error(
        `systemctl start ${unit} exited ${r.code}: ${r.stderr.trim()}\n${await this.diagnose(unit)}`,
      );
    }
    return r;
  }

  /** `systemctl stop` (blocking until the unit is stopped); throws with diagnostics on failure. */
  async stopUnit(
    unit: string,
    opts: { allowFailure?: boolean; timeoutMs?: number } = {},
  ): Promise<ExecResult> {
    const r = await this.exec(['systemctl', 'stop', unit], { timeoutMs: opts.timeoutMs ?? 30_000 });
    if (r.code !== 0 && !opts.allowFailure) {
      throw new Error(
        `systemctl stop ${unit} exited ${r.code}: ${r.stderr.trim()}\n${await this.diagnose(unit)}`,
      );
    }
    return r;
  }

  /** `systemctl show UNIT -p ...` as a record (all properties when `props` is empty). */
  async show(unit: string, props: readonly string[] = []): Promise<Props> {
    const out = await this.systemctl('show', unit, ...props.map((p) => `--property=${p}`));
    const result: Props = {};
    for (const line of out.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) result[line.slice(0, eq)] = line.slice(eq + 1);
    }
    return result;
  }

  /**
   * Polls `systemctl show` until `expected` holds: a record of exact values or patterns, or a
   * predicate over the properties. Resolves with the matching properties; on timeout, throws with
   * the last ones seen, the unit's status and its journal.
   */
  async waitFor(
    unit: string,
    expected: Expected | ((props: Props) => boolean),
    timeoutMs = 10_000,
    props: readonly string[] = [],
  ): Promise<Props> {
    const check = typeof expected === 'function' ? expected : (p: Props) => matches(p, expected);
    const wanted = [
      ...new Set([
        ...DEFAULT_PROPS,
        ...props,
        ...(typeof expected === 'function' ? [] : Object.keys(expected)),
      ]),
    ];
    const deadline = Date.now() + timeoutMs;
    let last: Props = {};
    for (;;) {
      last = await this.show(unit, wanted);
      if (check(last)) return last;
      if (Date.now() >= deadline) break;
      await sleep(50);
    }
    const want =
      typeof expected === 'function'
        ? `predicate ${expected.toString()}`
        : formatProps(Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, String(v)])));
    throw new Error(
      `${unit}: after ${timeoutMs} ms still not ${want}\nlast seen: ${formatProps(last)}\n${await this.diagnose(unit)}`,
    );
  }

  /** The unit's journal (its output and the manager's messages about it). */
  async journal(unit: string): Promise<string> {
    await this.exec(['journalctl', '--sync']);
    const r = await this.exec(['journalctl', '--no-pager', '-o', 'short-monotonic', '-u', unit]);
    return `${r.stdout}${r.code !== 0 ? r.stderr : ''}`;
  }

  /** Polls the unit's journal until a line matches; resolves with the newest match. */
  async waitForJournal(
    unit: string,
    pattern: RegExp,
    timeoutMs = 10_000,
  ): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    let text = '';
    for (;;) {
      text = await this.journal(unit);
      // The newest match: a unit started twice has logged the same line twice.
      for (const line of text.split('\n').reverse()) {
        const m = line.match(pattern);
        if (m) return m;
      }
      if (Date.now() >= deadline) break;
      await sleep(50);
    }
    throw new Error(
      `${unit}: no journal line matched ${pattern} within ${timeoutMs} ms\n--- journal ---\n${text}`,
    );
  }

  /** `systemctl status` and the journal of a unit: what a failing test should print. */
  async diagnose(unit: string): Promise<string> {
    const status = await this.exec([
      'systemctl',
      'status',
      '--no-pager',
      '--full',
      '--lines=0',
      unit,
    ]);
    return `--- systemctl status ${unit} ---\n${status.stdout}${status.stderr}--- journal of ${unit} ---\n${await this.journal(unit)}`;
  }

  /**
   * Runs assertions about a unit; when one fails, its error also carries the unit's status and
   * journal, so the failing test explains itself.
   */
  async explain(unit: string, assertions: () => void | Promise<void>): Promise<void> {
    try {
      await assertions();
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      const detail = `\n${await this.diagnose(unit)}`;
      e.message += detail;
      // jest prints the message (not the copy of it in the stack), so this is all it takes.
      throw e;
    }
  }

  /** `with-systemd down`: stops every unit and process and removes the state dir. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    live.delete(this);
    const r = await run(this.tool, ['down'], this.env, 90_000);
    if (r.code !== 0)
      throw new Error(`with-systemd down (${this.dir}) exited ${r.code}: ${r.stderr}${r.stdout}`);
  }
}

const live = new Set<Manager>();

/** Boots a manager in a fresh state dir. Stop it with {@link Manager.stop} (or use {@link useManager}). */
export async function startManager(opts: ManagerOptions = {}): Promise<Manager> {
  const tool = withSystemdTool();
  if (!tool) throw new Error('with-systemd not found; see systemdAvailable()');
  reapStaleManagers();
  const dir = path.join(
    STATE_PARENT,
    `${STATE_PREFIX}${process.pid}.${randomBytes(4).toString('hex')}`,
  );
  const share = opts.share ?? [repoRoot, path.dirname(process.execPath)];
  const rw = [...(opts.rw ?? []), ...share.filter(underPrivateDir)].map((p) => path.resolve(p));
  const env: NodeJS.ProcessEnv = { ...process.env, WITH_SYSTEMD_DIR: dir };
  delete env.WITH_SYSTEMD_RW;
  delete env.WITH_SYSTEMD_SYSROOT;
  if (rw.length) env.WITH_SYSTEMD_RW = [...new Set(rw)].join(':');
  for (const p of rw) sharedIntoManagers.add(p);
  if (opts.sysroot) env.WITH_SYSTEMD_SYSROOT = path.resolve(opts.sysroot);
  if (opts.timeoutSec) env.WITH_SYSTEMD_TIMEOUT = String(opts.timeoutSec);
  const timeoutMs = ((opts.timeoutSec ?? 30) + 30) * 1000;
  let r: ExecResult;
  try {
    r = await run(tool, ['up'], env, timeoutMs);
  } catch (err) {
    await run(tool, ['down'], env, timeoutMs).catch(() => undefined);
    throw err;
  }
  if (r.code !== 0) {
    await run(tool, ['down'], env, timeoutMs).catch(() => undefined);
    throw new Error(`with-systemd up (${dir}) exited ${r.code}:\n${r.stderr}${r.stdout}`);
  }
  const manager = new Manager(tool, dir, env);
  live.add(manager);
  return manager;
}

/** Managers started by this test file and not yet stopped. */
export function liveManagers(): readonly Manager[] {
  return [...live];
}

/**
 * Boots one manager for the enclosing describe block (beforeAll) and always takes it down
 * (afterAll), even when tests or the boot itself failed. Returns an accessor for it.
 */
export function useManager(opts: ManagerOptions = {}): () => Manager {
  let manager: Manager | undefined;
  let starting: Promise<Manager> | undefined;
  beforeAll(async () => {
    starting = startManager(opts);
    manager = await starting;
  }, 120_000);
  afterAll(async () => {
    // A beforeAll that timed out may still finish booting: wait for it, then take it down.
    const m = manager ?? (await starting?.catch(() => undefined));
    await m?.stop();
  }, 120_000);
  return () => {
    if (!manager) throw new Error('the systemd manager is not up (did beforeAll fail?)');
    return manager;
  };
}

/** Fails with a clear message when the package has not been built (units run `dist/`, not `lib/`). */
export function builtPackage(): string {
  const entry = process.env.SDNOTIFY_E2E_PACKAGE ?? path.join(repoRoot, 'dist', 'index.js');
  if (!fs.existsSync(entry)) {
    throw new Error(
      `${entry} does not exist: build the package first (npm run build:ts, and the addon: npm run build:native)`,
    );
  }
  return entry;
}
