// The barrier's contract on the libsystemd backend (pipe2 + the host's sd_pid_notify_with_fds).
import { barrierSuite } from './barrier';

describe('barrier contract: libsystemd backend', () => {
  barrierSuite('libsystemd');
});
