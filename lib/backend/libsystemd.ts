// libsystemd's own functions do the sending (exact host behaviour, vsock on ≥ 253).
// Its socket is blocking: with the manager's queue full it would hang the event loop. So for
// AF_UNIX the binding first asks a connected probe socket whether the queue has room, in the same
// native call, and returns EAGAIN if not. What remains: another sender can fill the last slot
// between the probe and libsystemd's send (a window of microseconds, which matters only when the
// queue sits at its limit); vsock has no such guard. The builtin backend has neither gap.
import type { NativeBinding } from './native';
import type { Backend, SendRequest, SendResult } from './types';

export function createLibsystemdBackend(binding: NativeBinding): Backend {
  return {
    name: 'libsystemd',
    send({ address, data, pid, fds }: SendRequest): SendResult {
      const probe = address.kind === 'unix' ? address.sunPath : null;
      // unset is always false: the caller unsets process.env itself, under Node's env lock.
      // The narrowest C function for the call, as a C program making it would use.
      const rc =
        fds.length > 0
          ? binding.sdPidNotifyWithFds(pid, false, data, Int32Array.from(fds), probe)
          : pid !== 0
            ? binding.sdPidNotify(pid, false, data, probe)
            : binding.sdNotify(false, data, probe);
      return { rc, syscall: 'sendmsg' };
    },
  };
}
