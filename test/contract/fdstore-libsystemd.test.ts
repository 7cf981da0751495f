// The fd store's contract on the libsystemd backend (sd_pid_notify_with_fds).
import { fdStoreSuite } from './fdstore';

describe('fd store contract: libsystemd backend', () => {
  fdStoreSuite('libsystemd');
});
