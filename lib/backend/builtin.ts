// The protocol over raw syscalls: one non-blocking sendmsg() per message, credentials only when
// they differ from the kernel's own, and libsystemd's retry without them.
import { errno } from '../errors';
import type { NativeBinding } from './native';
import type { Backend, SendRequest, SendResult } from './types';

/** libsystemd's rule: attach SCM_CREDENTIALS only when sending for another pid or with other ids. */
export function needsCredentials(pid: number): boolean {
  return (
    (pid !== 0 && pid !== process.pid) ||
    process.getuid!() !== process.geteuid!() ||
    process.getgid!() !== process.getegid!()
  );
}

export function createBuiltinBackend(binding: NativeBinding): Backend {
  return {
    name: 'builtin',
    send({ address, data, pid, fds }: SendRequest): SendResult {
      if (address.kind !== 'unix') return { rc: -errno('EAFNOSUPPORT'), syscall: 'socket' };
      const fdArray = fds.length > 0 ? Int32Array.from(fds) : null;
      if (needsCredentials(pid)) {
        // pid_t's bits in a u32; uid and gid are unsigned and may exceed 2^31.
        const cred = Uint32Array.of(
          (pid || process.pid) >>> 0,
          process.getuid!(),
          process.getgid!(),
        );
        const rc = binding.sendUnix(address.sunPath, data, fdArray, cred);
        if (rc >= 0) return { rc: 1, syscall: 'sendmsg' };
        // Like libsystemd: the kernel refused the credentials (or the send); retry with our own.
      }
      const rc = binding.sendUnix(address.sunPath, data, fdArray, null);
      return { rc: rc >= 0 ? 1 : rc, syscall: socketFailure(rc) ? 'socket' : 'sendmsg' };
    },
  };
}

/** Errors that come from socket() rather than sendmsg(). */
function socketFailure(rc: number): boolean {
  return rc === -errno('EMFILE') || rc === -errno('ENFILE');
}
