import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AbortedError } from '@netmachine/core';
import { describe, expect, it } from 'vitest';
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

describe('openIdentityStore', () => {
  it('refuses to open with an aborted signal and leaves the directory usable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'netmachine-identity-'));
    try {
      const path = join(dir, 'store');
      await expect(openIdentityStore({ path, signal: AbortSignal.abort() })).rejects.toBeInstanceOf(
        AbortedError,
      );
      await using store = await openIdentityStore({ path });
      expect(store.running).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
