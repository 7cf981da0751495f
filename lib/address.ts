/** Where `NOTIFY_SOCKET` points, or why it points nowhere. */
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
    }
  | {
      kind: 'invalid';
      value: string;
      /** Why, completing "NOTIFY_SOCKET …". */
      reason: string;
      /** What libsystemd returns for it (as -errno). */
      code: 'EINVAL' | 'ENAMETOOLONG';
    };

/**
 * libsystemd's limit for both forms: the value must fit `sun_path` (108 bytes) with a NUL to
 * spare, so a path holds at most 107 bytes and an abstract name at most 106 after the "@".
 */
export const NOTIFY_SOCKET_MAX = 107;

const U32_MAX = 0xffffffff;

function parseU32(s: string): number | undefined {
  // Decimal or 0x-hex, as systemd's safe_atou32 accepts; VMADDR_CID_ANY (U32_MAX) is refused.
  if (!/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) && n <= U32_MAX ? n : undefined;
}

function invalid(
  value: string,
  reason: string,
  code: 'EINVAL' | 'ENAMETOOLONG' = 'EINVAL',
): NotifyAddress {
  return { kind: 'invalid', value, reason, code };
}

/**
 * Parses a `NOTIFY_SOCKET` value: `/absolute/path`, `@abstract-name` or
 * `vsock[-stream|-dgram|-seqpacket]:CID:PORT`, with libsystemd's limits (and its errno for each
 * refusal). Never truncates a path.
 */
export function parseNotifySocket(value: string): NotifyAddress {
  if (value.includes('\0')) return invalid(value, 'must not contain a NUL byte');
  if (value.startsWith('/') || value.startsWith('@')) {
    const abstract = value.startsWith('@');
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length < 2) return invalid(value, `"${value}" names no socket`);
    if (bytes.length > NOTIFY_SOCKET_MAX) {
      // libsystemd: ENAMETOOLONG for a path, EINVAL for an abstract name.
      return invalid(
        value,
        `is ${bytes.length} bytes; an AF_UNIX address holds at most ${NOTIFY_SOCKET_MAX}`,
        abstract ? 'EINVAL' : 'ENAMETOOLONG',
      );
    }
    // The abstract form's "@" becomes the leading NUL of sun_path.
    const sunPath = abstract ? Buffer.concat([Buffer.of(0), bytes.subarray(1)]) : bytes;
    return { kind: 'unix', value, sunPath, abstract };
  }
  const m = /^vsock(?:-(stream|dgram|seqpacket))?:([^:]+):([^:]+)$/.exec(value);
  if (m) {
    const cid = parseU32(m[2]);
    const port = parseU32(m[3]);
    if (cid === undefined || cid === U32_MAX)
      return invalid(value, 'has a vsock CID that is not a number below 4294967295');
    if (port === undefined)
      return invalid(value, 'has a vsock PORT that is not a number up to 4294967295');
    const type = m[1] as 'stream' | 'dgram' | 'seqpacket' | undefined;
    return { kind: 'vsock', value, type, cid, port };
  }
  return invalid(
    value,
    'must be an absolute path ("/run/…"), an abstract name ("@…") or "vsock:CID:PORT"',
  );
}
