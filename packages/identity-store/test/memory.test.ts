import { MemoryBackend, memoryIdentityStore } from '../src/index.js';
import { identityStoreCompliance } from './compliance-suite.js';

identityStoreCompliance('memory backend', async () => {
  const backend = new MemoryBackend();
  return {
    open: (options) => memoryIdentityStore({ ...options, backend }),
    putRaw: (key, bytes) => backend.put(key, bytes),
    cleanup: async () => {},
  };
});
