// The fd store's contract on the builtin backend (our sendmsg with SCM_RIGHTS).
import { fdStoreSuite } from './fdstore';

describe('fd store contract: builtin backend', () => {
  fdStoreSuite('builtin');
});
