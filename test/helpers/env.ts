/**
 * NOTIFY_SOCKET for tests, set where both backends look.
 *
 * jest gives each test file a sandboxed `process.env`: a plain copy, so assigning to it never
 * reaches the C environment that libsystemd's getenv() reads. The lib (which reads the sandboxed
 * copy) would then see a different value than libsystemd and route every send through the
 * builtin backend, and a "libsystemd" suite would quietly test the builtin one. So tests set the
 * variable in the sandbox AND in the worker's real environment. The real `process` is reached
 * through a core function's constructor, which belongs to the outer (non-sandboxed) realm.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';

const OuterFunction = (fs.readFileSync as unknown as { constructor: FunctionConstructor })
  .constructor;
/** The worker's real process object (not jest's sandboxed copy). */
export const realProcess = new OuterFunction('return process')() as NodeJS.Process;

function setIn(env: NodeJS.ProcessEnv, name: string, value: string | undefined): void {
  if (value === undefined) delete env[name];
  else env[name] = value;
}

/** Sets (or with undefined, unsets) an environment variable in jest's sandbox and in the C environment. */
export function setEnv(name: string, value: string | undefined): void {
  setIn(process.env, name, value);
  if (realProcess.env !== process.env) setIn(realProcess.env, name, value);
}

export function setNotifySocket(value: string | undefined): void {
  setEnv('NOTIFY_SOCKET', value);
}

const doomed = new Map<ChildProcess, (() => void) | undefined>();
let hooked = false;

/**
 * Kills `child` (then runs `cleanup`, e.g. unlinking its socket) when the test process exits,
 * should a test forget to. The hook is on the real process: jest's sandboxed `process` has its
 * own copy of the listeners, which never fire.
 */
export function killOnExit(child: ChildProcess, cleanup?: () => void): void {
  doomed.set(child, cleanup);
  child.once('exit', () => doomed.delete(child));
  if (!hooked) {
    hooked = true;
    realProcess.once('exit', () => {
      for (const [c, after] of doomed) {
        c.kill('SIGKILL');
        try {
          after?.();
        } catch {
          /* best effort at exit */
        }
      }
    });
  }
}
