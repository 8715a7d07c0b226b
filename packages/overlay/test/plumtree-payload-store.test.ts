import { describe, expect, it } from 'vitest';
import { PayloadStore } from '../src/plumtree-payload-store.js';

const payload = (n: number): Uint8Array => new Uint8Array(n);

describe('PlumTree payload store', () => {
  it('keeps the cached payloads under a byte bound as well as a count, evicting the oldest', () => {
    const store = new PayloadStore(100, 10, 60_000, 250);
    store.remember('a', payload(100), 0, 0);
    store.remember('b', payload(100), 0, 1);
    expect(store.cachedBytes).toBe(200);
    store.remember('c', payload(100), 0, 2);
    expect(store.cached('a', 3)).toBeUndefined();
    expect(store.cached('b', 3)).toBeDefined();
    expect(store.cachedBytes).toBe(200);
    // A payload larger than the bound alone is kept (the newest), everything older goes.
    store.remember('d', payload(400), 0, 4);
    expect(store.cachedCount).toBe(1);
    expect(store.cachedBytes).toBe(400);
    // Seen ids are bounded apart: evicted payloads are still duplicates.
    expect(store.hasSeen('a')).toBe(true);
  });

  it('counts the bytes of payloads that expire or are stored again under the same id', () => {
    const store = new PayloadStore(100, 10, 1000);
    store.remember('a', payload(10), 0, 0);
    store.remember('a', payload(30), 0, 1);
    expect(store.cachedBytes).toBe(30);
    store.remember('b', payload(5), 0, 500);
    expect(store.cached('b', 1200)).toBeDefined();
    expect(store.cachedCount).toBe(1);
    expect(store.cachedBytes).toBe(5);
  });
});
