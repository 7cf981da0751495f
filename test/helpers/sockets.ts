/**
 * Finding a socket's identity without asking Node: the kernel's own tables (/proc/net/tcp, udp)
 * give a socket's inode from its port, and /proc/self/fd says which of our fds holds that inode.
 * So a test can check "the fd that arrived is this server's socket" without trusting the private
 * handle the code under test reads.
 */
import * as fs from 'node:fs';

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFREG = 0o100000;

const TCP_STATES = { established: '01', listen: '0A' } as const;

/**
 * The inode of the inet socket bound to `localPort` in /proc/net/<proto>: for TCP, in `state`
 * (a listener and the connections it accepted share a local port).
 */
export function inetSocketInode(
  proto: 'tcp' | 'udp' | 'tcp6' | 'udp6',
  localPort: number,
  state?: keyof typeof TCP_STATES,
): number {
  const port = localPort.toString(16).toUpperCase().padStart(4, '0');
  const rows = fs
    .readFileSync(`/proc/net/${proto}`, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/));
  const hits = rows.filter(
    (r) => r[1].endsWith(`:${port}`) && (state === undefined || r[3] === TCP_STATES[state]),
  );
  if (hits.length !== 1) {
    throw new Error(
      `expected one ${proto} socket on local port ${localPort}, found ${hits.length}`,
    );
  }
  return Number(hits[0][9]);
}

/** Our fds that hold the socket with this inode (`socket:[ino]` in /proc/self/fd). */
export function fdsOfSocketInode(ino: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${name}`) === `socket:[${ino}]`) out.push(Number(name));
    } catch {
      /* the directory fd readdirSync used, closed since */
    }
  }
  return out;
}

/** The inode of the listening AF_UNIX socket bound to `socketPath` (from /proc/net/unix). */
export function unixListenerInode(socketPath: string): number {
  const SO_ACCEPTCON = 0x10000;
  const hits = fs
    .readFileSync('/proc/net/unix', 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((r) => r[7] === socketPath && (parseInt(r[3], 16) & SO_ACCEPTCON) !== 0);
  if (hits.length !== 1) {
    throw new Error(`expected one UNIX listener at ${socketPath}, found ${hits.length}`);
  }
  return Number(hits[0][6]);
}
