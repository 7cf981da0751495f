// The contract suite on the libsystemd backend (the host's sd_pid_notify_with_fds).
import { contractSuite } from './contract';

describe('contract: libsystemd backend', () => {
  contractSuite('libsystemd');
});
