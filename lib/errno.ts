// The errno table, loaded on first use: node:os is not in Node's startup snapshot, and importing
// sdnotify should cost well under a millisecond.
let table: Readonly<Record<string, number>> | undefined;

/** `{ ENOENT: 2, EAGAIN: 11, … }` for this platform. */
export function errnoTable(): Readonly<Record<string, number>> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  table ??= (require('node:os') as typeof import('node:os')).constants.errno;
  return table;
}
