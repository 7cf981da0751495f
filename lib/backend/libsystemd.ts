// libsystemd's sd_pid_notify_with_fds() does the sending (exact host behaviour, vsock on ≥ 253).
// Its socket is blocking: with the manager's queue full it would hang the event loop. So for
// AF_UNIX we first ask a connected probe socket whether the queue has room, and report EAGAIN if
// not. (A queue that fills between probe and send can still block; the window is microseconds.)
import { errno } from '../errors';
import type { NativeBinding } from './native';
import type { Backend, SendRequest, SendResult } from './types';

export function createLibsystemdBackend(binding: NativeBinding): Backend {
  return {
    name: 'libsystemd',
    send({ address, data, pid, fds }: SendRequest): SendResult {
      if (address.kind === 'unix') {
        // 0: full. Other probe failures fall through, so libsystemd reports its own errno.
        if (binding.probeUnix(address.sunPath) === 0) {
          return { rc: -errno('EAGAIN'), syscall: 'sendmsg' };
        }
      }
      // unset is always false: the caller unsets process.env itself, under Node's env lock.
      const rc = binding.sdPidNotifyWithFds(pid, false, data, fds.length > 0 ? Int32Array.from(fds) : null);
      return { rc, syscall: 'sendmsg' };
    },
  };
}
