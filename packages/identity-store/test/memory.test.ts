import { KeyPair } from '@netmachine/core';
import { describe, expect, it, vi } from 'vitest';
import { type IdentityBackend, MemoryBackend, memoryIdentityStore } from '../src/index.js';
import { identityStoreCompliance } from './compliance-suite.js';

identityStoreCompliance('memory backend', async () => {
  const backend = new MemoryBackend();
  return {
    open: (options) => memoryIdentityStore({ ...options, backend }),
    putRaw: (key, bytes) => backend.put(key, bytes),
    cleanup: async () => {},
  };
});

describe('measurement writes', () => {
  it('writes RTT estimates in the background, without a stop', async () => {
    const backend = new MemoryBackend();
    await using store = await memoryIdentityStore({ backend, measurementFlushMs: 5 });
    const id = KeyPair.generate().id;
    store.recordRtt(id, 40);
    await vi.waitFor(async () => expect(await backend.get(`l/${id}`)).toBeDefined(), { timeout: 20_000 });
    store.recordRtt(id, 80);
    await store.flush();
    await using reopened = await memoryIdentityStore({ backend });
    expect(reopened.node(id)?.rtt).toMatchObject({ smoothedMs: 45, samples: 2 });
  });

  it('keeps a failed write pending and counts it', async () => {
    const backend = new MemoryBackend();
    let failing = true;
    const flaky: IdentityBackend = {
      get: (key) => backend.get(key),
      put: (key, value) => (failing ? Promise.reject(new Error('disk full')) : backend.put(key, value)),
      delete: (key) => backend.delete(key),
      entries: (prefix) => backend.entries(prefix),
      close: () => backend.close(),
    };
    await using store = await memoryIdentityStore({ backend: flaky, measurementFlushMs: 60_000 });
    const id = KeyPair.generate().id;
    await expect(store.setTrust(id, 7)).rejects.toThrow('disk full');
    expect(store.trust(id)).toBe(7);
    expect(store.counters().writeErrors).toBe(1);
    failing = false;
    await store.flush();
    expect(await backend.get(`l/${id}`)).toBeDefined();
  });
});
