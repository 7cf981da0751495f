// The barrier's contract on the builtin backend (pipe2 + our sendmsg with SCM_RIGHTS).
import { barrierSuite } from './barrier';

describe('barrier contract: builtin backend', () => {
  barrierSuite('builtin');
});
