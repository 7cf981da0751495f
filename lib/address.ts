/** Where `NOTIFY_SOCKET` points. */
export type NotifyAddress =
  | {
      kind: 'unix';
      /** The variable's value, as given. */
      value: string;
      /** Raw `sun_path` bytes: the path, or a NUL then the abstract name (no padding). */
      sunPath: Buffer;
      abstract: boolean;
    }
  | {
      kind: 'vsock';
      value: string;
      /** `undefined` lets the sender pick (dgram, then seqpacket), as libsystemd does. */
      type: 'stream' | 'dgram' | 'seqpacket' | undefined;
      cid: number;
      port: number;
    };

/** Bytes an AF_UNIX path may hold (108 with the terminating NUL). */
export const UNIX_PATH_MAX = 107;

const U32_MAX = 0xffffffff;

function parseU32(s: string): number | undefined {
  // Decimal or 0x-hex, as systemd's safe_atou32 accepts; VMADDR_CID_ANY (U32_MAX) is refused.
  if (!/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) && n <= U32_MAX ? n : undefined;
}

/**
 * Parses a `NOTIFY_SOCKET` value: `/absolute/path`, `@abstract-name` or
 * `vsock[-stream|-dgram|-seqpacket]:CID:PORT`. Returns an explanation string when the value is
 * not one of those; never truncates a path.
 */
export function parseNotifySocket(value: string): NotifyAddress | string {
  if (value.includes('\0')) return 'must not contain a NUL byte';
  if (value.startsWith('/') || value.startsWith('@')) {
    const abstract = value.startsWith('@');
    const name = Buffer.from(abstract ? value.slice(1) : value, 'utf8');
    if (abstract && name.length === 0) return 'an abstract name after "@" must not be empty';
    const sunPath = abstract ? Buffer.concat([Buffer.of(0), name]) : name;
    const room = abstract ? UNIX_PATH_MAX + 1 : UNIX_PATH_MAX;
    if (sunPath.length > room) {
      return `is ${sunPath.length} bytes; an AF_UNIX address holds at most ${room}`;
    }
    return { kind: 'unix', value, sunPath, abstract };
  }
  const m = /^vsock(?:-(stream|dgram|seqpacket))?:([^:]+):([^:]+)$/.exec(value);
  if (m) {
    const cid = parseU32(m[2]!);
    const port = parseU32(m[3]!);
    if (cid === undefined || cid === U32_MAX) return 'vsock CID must be a number below 4294967295';
    if (port === undefined) return 'vsock PORT must be a number up to 4294967295';
    const type = m[1] as 'stream' | 'dgram' | 'seqpacket' | undefined;
    return { kind: 'vsock', value, type, cid, port };
  }
  return 'must be an absolute path ("/run/…"), an abstract name ("@…") or "vsock:CID:PORT"';
}
