import { MemoryBackend } from './backend.js';
import { IdentityStore } from './identity-store.js';
import { LmdbBackend } from './lmdb-backend.js';
import type { IdentityStoreOptions } from './options.js';

export interface OpenIdentityStoreOptions extends Omit<IdentityStoreOptions, 'backend'> {
  /** Directory of the LMDB environment (created if missing). */
  path: string;
  signal?: AbortSignal;
}

/** Opens (or creates) a durable store in `path` and loads it. Stop it to close the database. */
export async function openIdentityStore(options: OpenIdentityStoreOptions): Promise<IdentityStore> {
  const { path, signal, ...rest } = options;
  const backend = await LmdbBackend.open({ path, signal });
  const store = new IdentityStore({ ...rest, backend });
  try {
    await store.start({ signal });
  } catch (error) {
    await backend.close();
    throw error;
  }
  return store;
}

/**
 * A started store kept in memory. Pass the same `backend` to a later call to "reopen" it: the
 * backend outlives the store the way a directory outlives a process.
 */
export async function memoryIdentityStore(
  options: Partial<IdentityStoreOptions> & { signal?: AbortSignal } = {},
): Promise<IdentityStore> {
  const { signal, backend, ...rest } = options;
  const store = new IdentityStore({ ...rest, backend: backend ?? new MemoryBackend() });
  await store.start({ signal });
  return store;
}
