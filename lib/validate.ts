// The idiomatic layer's promise: anything the manager would drop silently (while the sender sees
// success) is refused here, before sending, with an error naming the field and the rule.

/** The manager reads one datagram into a 4096-byte buffer and drops longer ones. */
export const MAX_MESSAGE_BYTES = 4096;
/** SCM_MAX_FD: the kernel's limit of descriptors in one message. */
export const MAX_FDS = 253;
/** Largest pid_t. */
export const PID_MAX = 0x7fffffff;
/** Largest u64, which systemd reads as "infinity" in µs fields. */
export const U64_MAX = 0xffff_ffff_ffff_ffffn;

export const KEY_RE = /^[A-Z_][A-Z0-9_]*$/;

/** A field's name in messages: `state.status` for objects, `STATUS=` for strings. */
export type Label = string;

export function checkNoNewline(label: Label, value: string): void {
  if (value.includes('\n')) {
    throw new RangeError(
      `${label} must be a single line: it contains a newline, which would start a new assignment`,
    );
  }
  if (value.includes('\0')) throw new RangeError(`${label} must not contain a NUL character`);
  if (!value.isWellFormed()) {
    throw new RangeError(`${label} must be well-formed UTF-16 text (it has a lone surrogate)`);
  }
}

export function checkU64Text(label: Label, value: string): void {
  if (!/^[0-9]{1,20}$/.test(value) || BigInt(value) > U64_MAX) {
    throw new RangeError(
      `${label} must be an unsigned decimal integer up to 2^64-1, got "${value}"`,
    );
  }
}

export function checkIntText(label: Label, value: string, min: number, max: number): void {
  const n = /^[0-9]{1,10}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) {
    throw new RangeError(`${label} must be an integer from ${min} to ${max}, got "${value}"`);
  }
}

/** `FDNAME=`: ASCII without control characters or ":", 1 to 255 characters (else systemd ignores it). */
export function checkFdName(label: Label, value: string): void {
  if (value.length === 0 || value.length > 255) {
    throw new RangeError(`${label} must be 1 to 255 characters long, got ${value.length}`);
  }

  if (!/^[\x20-\x7e]+$/.test(value) || value.includes(':')) {
    throw new RangeError(
      `${label} must be printable ASCII without ":" (systemd ignores other names), got ${JSON.stringify(value)}`,
    );
  }
}

/** A µs value given as number or bigint, to its decimal text. */
export function usecText(label: Label, value: unknown): string {
  if (typeof value === 'bigint') {
    if (value < 0n || value > U64_MAX) {
      throw new RangeError(`${label} must be from 0 to 2^64-1 microseconds, got ${value}`);
    }
    return value.toString();
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(
        `${label} must be a non-negative safe integer of microseconds (use a bigint above 2^53), got ${value}`,
      );
    }
    return value.toString();
  }
  throw new TypeError(`${label} must be a number or bigint of microseconds, got ${typeof value}`);
}

/** An integer field given as a number, to its decimal text. */
export function intText(label: Label, value: unknown, min: number, max: number): string {
  if (typeof value !== 'number') {
    throw new TypeError(`${label} must be a number, got ${typeof value}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${label} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value.toString();
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (Buffer.isBuffer(value)) return 'a Buffer';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  return typeof value;
}

/** C's `int unset_environment`: a boolean, or an integer (non-zero = true). */
export function unsetEnvironmentArg(fn: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return value !== 0;
  throw new TypeError(
    `${fn}: unset_environment must be a boolean or an integer, got ${describe(value)}`,
  );
}
