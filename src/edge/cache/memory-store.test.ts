import { MemoryStore } from './memory-store.ts';
import { describeStoreContract } from './store-contract.ts';

describeStoreContract('memory', async () => ({
  open: async (opts) => new MemoryStore(opts),
  cleanup: async () => {},
}));
