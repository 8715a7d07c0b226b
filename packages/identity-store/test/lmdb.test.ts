import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LmdbBackend, openIdentityStore } from '../src/index.js';
import { identityStoreCompliance } from './compliance-suite.js';

identityStoreCompliance('lmdb backend', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'netmachine-identity-'));
  const path = join(dir, 'store');
  return {
    open: (options) => openIdentityStore({ ...options, path }),
    putRaw: async (key, bytes) => {
      const backend = await LmdbBackend.open({ path });
      try {
        await backend.put(key, bytes);
      } finally {
        await backend.close();
      }
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
