// NOTIFY_SOCKET values that cannot take a datagram, each with the errno a send gets: the
// transport failures every sending API is tested against.
import * as fs from 'node:fs';

import { makeStaleSocket, uniqueName, uniqueSocketPath, type PythonPeer } from './peer';

/** [what it is, the errno code a send gets, a setup that makes it and returns the address] */
export type BrokenAddress = [string, string, () => Promise<string>];

export function brokenAddresses(env: {
  /** Where setups register what to remove afterwards. */
  cleanups: Array<() => void>;
  /** Starts a peer the suite closes afterwards. */
  startPeer: (opts?: Parameters<typeof PythonPeer.start>[0]) => Promise<PythonPeer>;
}): BrokenAddress[] {
  const file = (make: (p: string) => void) => async () => {
    const p = uniqueSocketPath();
    make(p);
    env.cleanups.push(() => fs.rmSync(p, { force: true }));
    return p;
  };
  return [
    ['a path that does not exist', 'ENOENT', async () => uniqueSocketPath()],
    ['a regular file at the path', 'ECONNREFUSED', file((p) => fs.writeFileSync(p, ''))],
    ['a socket file whose owner has exited', 'ECONNREFUSED', file(makeStaleSocket)],
    ['an abstract name nobody bound', 'ECONNREFUSED', async () => `@${uniqueName('sdn-unbound')}`],
    [
      'a stream socket at the path',
      'EPROTOTYPE',
      async () => (await env.startPeer({ type: 'stream' })).notifySocket,
    ],
    [
      'a seqpacket socket at the path',
      'EPROTOTYPE',
      async () => (await env.startPeer({ type: 'seqpacket' })).notifySocket,
    ],
    // The kernel looks abstract names up per socket type: a stream socket's name is "unbound" to a datagram.
    [
      'an abstract name bound only by a stream socket',
      'ECONNREFUSED',
      async () => (await env.startPeer({ type: 'stream', abstract: true })).notifySocket,
    ],
  ];
}
