import { MemoryKeyStore } from '../../src/keystore/memory.js';
import { keyStoreContract } from './contract.js';

keyStoreContract('in-memory (fast unit tests only)', {
  open: async () => new MemoryKeyStore({ allowDestroy: true }),
  openWithoutDestroy: async () => new MemoryKeyStore({ allowDestroy: false }),
});
