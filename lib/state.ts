import { errnoTable } from './errno';
import {
  KEY_RE,
  MAX_MESSAGE_BYTES,
  PID_MAX,
  checkFdName,
  checkIntText,
  checkNoNewline,
  checkU64Text,
  describe,
  intText,
  usecText,
  type Label,
} from './validate';

/** Microseconds: a number (safe integer) or a bigint up to 2^64-1 (`U64_MAX` = infinity). */
export type Usec = number | bigint;

/** Values of `NotifyAccess=` that `NOTIFYACCESS=` may set at run time (systemd ≥ 254). */
export type NotifyAccess = 'none' | 'main' | 'exec' | 'all';

/**
 * The well-known assignments of sd_notify(3), typed. `undefined` and `false` fields are not sent
 * (except `fdPoll: false`, which is `FDPOLL=0`). Custom assignments go in `X_…` keys.
 *
 * @example
 * notify({ ready: true, status: 'Listening on :8080', mainPid: process.pid });
 */
export interface NotifyState {
  /** `READY=1`: start-up (or a reload) is finished. */
  ready?: boolean;
  /** `RELOADING=1`: a reload begins; send {@link NotifyState.monotonicUsec} with it. */
  reloading?: boolean;
  /** `STOPPING=1`: shutdown begins. */
  stopping?: boolean;
  /** `MONOTONIC_USEC=`: CLOCK_MONOTONIC in µs when the message was made (with `reloading`). */
  monotonicUsec?: Usec;
  /** `STATUS=`: one line of UTF-8 text shown by `systemctl status`. */
  status?: string;
  /** `NOTIFYACCESS=`: changes `NotifyAccess=` at run time (systemd ≥ 254). */
  notifyAccess?: NotifyAccess;
  /** `ERRNO=`: the errno-style cause of a failure, e.g. 2 for ENOENT. */
  errno?: number;
  /** `BUSERROR=`: a D-Bus error name, e.g. `org.freedesktop.DBus.Error.TimedOut`. */
  busError?: string;
  /** `EXIT_STATUS=`: informational exit status, 0–255. */
  exitStatus?: number;
  /** `MAINPID=`: the service's main process, when the manager did not fork it. */
  mainPid?: number;
  /** `WATCHDOG=1` (true) or `WATCHDOG=trigger`. */
  watchdog?: boolean | 'trigger';
  /** `WATCHDOG_USEC=`: a new watchdog interval. */
  watchdogUsec?: Usec;
  /** `EXTEND_TIMEOUT_USEC=`: more time for the current start, run or stop phase. */
  extendTimeoutUsec?: Usec;
  /** `FDSTORE=1`: keep the fds sent with this message in the manager's fd store. */
  fdStore?: boolean;
  /** `FDSTOREREMOVE=1`: remove every stored fd named {@link NotifyState.fdName}. */
  fdStoreRemove?: boolean;
  /** `FDNAME=`: name of the stored (or removed) fds; printable ASCII, no ":", ≤ 255. */
  fdName?: string;
  /** `false` sends `FDPOLL=0`: the manager does not drop the stored fds on EPOLLHUP/EPOLLERR. */
  fdPoll?: boolean;
  /** Custom assignments, `X_` and upper-case letters, digits or `_`. */
  [custom: `X_${string}`]: string | number | bigint | undefined;
}

type Kind = 'flag' | 'text' | 'usec' | 'int';
interface Field {
  prop: Exclude<keyof NotifyState, `X_${string}`>;
  key: string;
  kind: Kind;
  min?: number;
  max?: number;
  /** Extra check of the encoded value (applies to strings too). */
  check?: (label: Label, value: string) => void;
}

const BUS_ERROR_RE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$/;

/** The canonical order: the order of sd_notify(3). Custom fields follow, in insertion order. */
const FIELDS: readonly Field[] = [
  { prop: 'ready', key: 'READY', kind: 'flag' },
  { prop: 'reloading', key: 'RELOADING', kind: 'flag' },
  { prop: 'stopping', key: 'STOPPING', kind: 'flag' },
  { prop: 'monotonicUsec', key: 'MONOTONIC_USEC', kind: 'usec' },
  { prop: 'status', key: 'STATUS', kind: 'text' },
  {
    prop: 'notifyAccess',
    key: 'NOTIFYACCESS',
    kind: 'text',
    check: (label, v) => {
      if (!['none', 'main', 'exec', 'all'].includes(v)) {
        throw new RangeError(
          `${label} must be one of "none", "main", "exec", "all", got ${JSON.stringify(v)}`,
        );
      }
    },
  },
  // systemd's parse_errno(): 0 to ERRNO_MAX (4095), or a name such as ENOENT; else it is dropped.
  { prop: 'errno', key: 'ERRNO', kind: 'int', min: 0, max: 4095 },
  {
    prop: 'busError',
    key: 'BUSERROR',
    kind: 'text',
    check: (label, v) => {
      if (v.length > 255 || !BUS_ERROR_RE.test(v)) {
        throw new RangeError(
          `${label} must be a D-Bus error name like "org.freedesktop.DBus.Error.Failed", got ${JSON.stringify(v)}`,
        );
      }
    },
  },
  { prop: 'exitStatus', key: 'EXIT_STATUS', kind: 'int', min: 0, max: 255 },
  { prop: 'mainPid', key: 'MAINPID', kind: 'int', min: 1, max: PID_MAX },
  { prop: 'watchdog', key: 'WATCHDOG', kind: 'flag' },
  { prop: 'watchdogUsec', key: 'WATCHDOG_USEC', kind: 'usec' },
  { prop: 'extendTimeoutUsec', key: 'EXTEND_TIMEOUT_USEC', kind: 'usec' },
  { prop: 'fdStore', key: 'FDSTORE', kind: 'flag' },
  { prop: 'fdStoreRemove', key: 'FDSTOREREMOVE', kind: 'flag' },
  { prop: 'fdName', key: 'FDNAME', kind: 'text', check: checkFdName },
  { prop: 'fdPoll', key: 'FDPOLL', kind: 'flag' },
];

const BY_PROP = new Map(FIELDS.map((f) => [f.prop as string, f]));
const BY_KEY = new Map(FIELDS.map((f) => [f.key, f]));

/** One `KEY=VALUE` line. */
export interface Assignment {
  key: string;
  value: string;
}

/** The value a flag field sends when set; WATCHDOG may also be "trigger", FDPOLL only "0". */
function flagValue(field: Field, label: Label, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (field.prop === 'watchdog' && value === 'trigger') return 'trigger';
  if (field.prop === 'fdPoll') {
    if (typeof value !== 'boolean')
      throw new TypeError(`${label} must be a boolean, got ${describe(value)}`);
    return value ? undefined : '0';
  }
  if (typeof value !== 'boolean') {
    const also = field.prop === 'watchdog' ? ' or "trigger"' : '';
    throw new TypeError(`${label} must be a boolean${also}, got ${describe(value)}`);
  }
  return value ? '1' : undefined;
}

function encodeField(field: Field, label: Label, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  switch (field.kind) {
    case 'flag':
      return flagValue(field, label, value);
    case 'usec':
      return usecText(label, value);
    case 'int':
      return intText(label, value, field.min!, field.max!);
    case 'text':
      if (typeof value !== 'string') {
        throw new TypeError(`${label} must be a string, got ${describe(value)}`);
      }
      return value;
  }
}

/** Checks one assignment's value by the rules of its key (well-known or custom). */
function checkValue(key: string, value: string, label: Label): void {
  checkNoNewline(label, value);
  const field = BY_KEY.get(key);
  if (!field) return;
  switch (field.kind) {
    case 'flag': {
      const allowed = key === 'WATCHDOG' ? ['1', 'trigger'] : key === 'FDPOLL' ? ['0'] : ['1'];
      if (!allowed.includes(value)) {
        throw new RangeError(
          `${label} must be ${allowed.map((a) => `"${a}"`).join(' or ')}, got ${JSON.stringify(value)}`,
        );
      }
      break;
    }
    case 'usec':
      checkU64Text(label, value);
      break;
    case 'int':
      if (key === 'ERRNO' && Object.hasOwn(errnoTable(), value)) break;
      checkIntText(label, value, field.min!, field.max!);
      break;
    case 'text':
      break;
  }
  field.check?.(label, value);
}

/** Rules that span fields: FDSTOREREMOVE needs FDNAME, FDNAME/FDPOLL need a store operation. */
function checkCombination(assignments: readonly Assignment[], fdCount: number, what: string): void {
  const keys = new Set(assignments.map((a) => a.key));
  if (keys.has('BARRIER')) {
    if (assignments.length !== 1 || fdCount !== 1) {
      throw new RangeError(
        `${what}: BARRIER=1 must be sent alone with exactly one fd (got ${assignments.length} assignments and ${fdCount} fds); use barrier()`,
      );
    }
    return;
  }
  if (keys.has('FDSTOREREMOVE') && !keys.has('FDNAME')) {
    throw new RangeError(
      `${what}: fdStoreRemove (FDSTOREREMOVE=1) needs fdName to say which fds to remove`,
    );
  }
  if (keys.has('FDSTORE') && keys.has('FDSTOREREMOVE')) {
    throw new RangeError(`${what}: fdStore and fdStoreRemove cannot be combined in one message`);
  }
  if (keys.has('FDNAME') && !keys.has('FDSTORE') && !keys.has('FDSTOREREMOVE')) {
    throw new RangeError(
      `${what}: fdName (FDNAME=) only has a meaning with fdStore or fdStoreRemove`,
    );
  }
  if (keys.has('FDPOLL') && !keys.has('FDSTORE')) {
    throw new RangeError(`${what}: fdPoll (FDPOLL=0) only has a meaning with fdStore`);
  }
  if (keys.has('FDSTORE') && fdCount === 0) {
    throw new RangeError(`${what}: fdStore (FDSTORE=1) needs at least one fd in options.fds`);
  }
  if (!keys.has('FDSTORE') && fdCount > 0) {
    throw new RangeError(
      `${what}: fds were given without fdStore (FDSTORE=1); the manager would close them on arrival`,
    );
  }
}

/** The field a mistyped key most likely meant: same letters ignoring case and "_", or one edit away. */
function nearestField(prop: string): string | undefined {
  const norm = (k: string) => k.toLowerCase().replace(/_/g, '');
  const want = norm(prop);
  for (const f of FIELDS) if (norm(f.prop) === want || norm(f.key) === want) return f.prop;
  return FIELDS.find((f) => editDistance(norm(f.prop), want) <= Math.min(2, want.length >> 2 || 1))
    ?.prop;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/** Turns a NotifyState into assignments in canonical order, checking every field. */
export function stateAssignments(state: NotifyState): Assignment[] {
  const out: Assignment[] = [];
  for (const field of FIELDS) {
    const label = `state.${field.prop}`;
    const value = encodeField(field, label, state[field.prop]);
    if (value === undefined) continue;
    checkValue(field.key, value, label);
    out.push({ key: field.key, value });
  }
  for (const [prop, raw] of Object.entries(state)) {
    if (BY_PROP.has(prop)) continue;
    const label = `state.${prop}`;
    if (!prop.startsWith('X_') || !KEY_RE.test(prop)) {
      const guess = nearestField(prop);
      throw new TypeError(
        `${label} is not a NotifyState field${guess ? ` (did you mean ${guess}?)` : ''}; custom assignments need an "X_" key of upper-case letters, digits and "_"`,
      );
    }
    if (raw === undefined) continue;
    let value: string;
    if (typeof raw === 'string') value = raw;
    else if (typeof raw === 'bigint' || (typeof raw === 'number' && Number.isFinite(raw))) {
      value = String(raw);
    } else {
      throw new TypeError(
        `${label} must be a string, a finite number or a bigint, got ${describe(raw)}`,
      );
    }
    checkValue(prop, value, label);
    out.push({ key: prop, value });
  }
  return out;
}

/** Splits and checks a raw state string such as "READY=1\nSTATUS=ok" (one trailing newline allowed). */
export function parseAssignments(text: string): Assignment[] {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (body.length === 0) throw new RangeError('state must hold at least one KEY=VALUE assignment');
  const seen = new Set<string>();
  return body.split('\n').map((line, i) => {
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq);
    if (eq < 0 || !KEY_RE.test(key)) {
      throw new RangeError(
        `state line ${i + 1} must be KEY=VALUE with KEY of upper-case letters, digits and "_", got ${JSON.stringify(line)}`,
      );
    }
    // systemd keeps the first STATUS=, MAINPID=, ... but the last READY=: say which one counts.
    if (seen.has(key)) {
      throw new RangeError(`state line ${i + 1} repeats ${key}=; send each key once per message`);
    }
    seen.add(key);
    const value = line.slice(eq + 1);
    checkValue(key, value, `${key}=`);
    return { key, value };
  });
}

/** The bytes of one message. */
export function joinAssignments(assignments: readonly Assignment[]): string {
  return assignments.map((a) => `${a.key}=${a.value}`).join('\n');
}

/**
 * Validates a state (object or string) together with the fds that go with it and returns the
 * datagram's bytes. Throws TypeError/RangeError naming the field and the rule.
 */
export function encodeMessage(state: NotifyState | string, fdCount: number): Buffer {
  let assignments: Assignment[];
  let text: string;
  if (typeof state === 'string') {
    assignments = parseAssignments(state);
    text = state;
  } else if (
    typeof state === 'object' &&
    state !== null &&
    !Array.isArray(state) &&
    !ArrayBuffer.isView(state)
  ) {
    assignments = stateAssignments(state);
    if (assignments.length === 0) {
      throw new RangeError('state has no field to send (false and undefined fields are omitted)');
    }
    text = joinAssignments(assignments);
  } else {
    throw new TypeError(`state must be a NotifyState object or a string, got ${describe(state)}`);
  }
  checkCombination(assignments, fdCount, 'state');
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > MAX_MESSAGE_BYTES) {
    throw new RangeError(
      `state is ${bytes.length} bytes; the manager reads at most ${MAX_MESSAGE_BYTES} bytes per message and drops longer ones`,
    );
  }
  return bytes;
}

/**
 * The text a NotifyState encodes to, e.g. `"READY=1\nSTATUS=ok"`; validated like notify() does.
 */
export function formatState(state: NotifyState): string {
  return joinAssignments(stateAssignments(state));
}
