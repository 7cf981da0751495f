// libsystemd's sd_pid_notify_with_fds() does the sending (exact host behaviour, vsock on ≥ 253).
// Its socket is blocking: with the manager's queue full it would hang the event loop. So for
// AF_UNIX we first ask a connected probe socket whether the queue has room, and report EAGAIN if
// not. (A queue that fills between probe and send can still block; the window is microseconds.)
// The probe socket is made once and kept (close-on-exec): re-connecting it costs one syscall,
// where a fresh socket per message cost as much as libsystemd's whole send (npm run bench).
import { errno } from '../errors';
import type { NativeBinding } from './native';
import type { Backend, SendRequest, SendResult } from './types';

export function createLibsystemdBackend(binding: NativeBinding): Backend {
  let probeFd = -1;
  const probe = (sunPath: Buffer): number => {
    if (probeFd < 0) {
      probeFd = binding.probeSocket();
      if (probeFd < 0) return probeFd;
    }
    return binding.probeUnix(probeFd, sunPath);
  };
  return {
    name: 'libsystemd',
    send({ address, data, pid, fds }: SendRequest): SendResult {
      if (address.kind === 'unix') {
        // 0: full. Other probe failures fall through, so libsystemd reports its own errno.
        if (probe(address.sunPath) === 0) {
          return { rc: -errno('EAGAIN'), syscall: 'sendmsg' };
        }
      }
      // unset is always false: the caller unsets process.env itself, under Node's env lock.
      const rc = binding.sdPidNotifyWithFds(
        pid,
        false,
        data,
        fds.length > 0 ? Int32Array.from(fds) : null,
      );
      return { rc, syscall: 'sendmsg' };
    },
  };
}
