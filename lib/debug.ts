import { debuglog } from 'node:util';

/** Printed under `NODE_DEBUG=sdnotify`. */
export const debug = debuglog('sdnotify');
