// The contract suite on the builtin backend (our protocol over raw syscalls).
import { contractSuite } from './contract';

describe('contract: builtin backend', () => {
  contractSuite('builtin');
});
