import type { Millis } from './protocol.js';

// What a PlumTree node remembers of the payloads it has seen: the ids (so a second copy is a duplicate)
// and, for a while, the payloads themselves (to answer Graft and Want). Both are bounded: the ids by
// count, the payloads by count and by age; the oldest go first.

export interface CachedPayload {
  readonly payload: Uint8Array;
  /** Hops the payload had travelled to reach this node (0 at its origin). */
  readonly hops: number;
  readonly at: Millis;
}

export class PayloadStore {
  readonly #seenCapacity: number;
  readonly #cacheSize: number;
  readonly #cacheTtl: Millis;
  /** Seen ids in insertion order: the first is the oldest, evicted when full. */
  readonly #seen = new Set<string>();
  /** Payloads in insertion order (oldest first): evicted by count and by age. */
  readonly #cache = new Map<string, CachedPayload>();

  constructor(seenCapacity: number, cacheSize: number, cacheTtl: Millis) {
    this.#seenCapacity = seenCapacity;
    this.#cacheSize = cacheSize;
    this.#cacheTtl = cacheTtl;
  }

  /** Ids remembered as seen. */
  get seenCount(): number {
    return this.#seen.size;
  }

  /** Payloads cached. */
  get cachedCount(): number {
    return this.#cache.size;
  }

  /** Whether `id` has been seen and not yet forgotten. */
  hasSeen(id: string): boolean {
    return this.#seen.has(id);
  }

  /** Marks `id` as seen and caches its payload, evicting the oldest past either bound. */
  remember(id: string, payload: Uint8Array, hops: number, now: Millis): void {
    const seen = this.#seen;
    seen.add(id);
    if (seen.size > this.#seenCapacity) seen.delete(seen.values().next().value as string);
    const cache = this.#cache;
    cache.set(id, { payload, hops, at: now });
    if (cache.size > this.#cacheSize) cache.delete(cache.keys().next().value as string);
    this.#expire(now);
  }

  /** The cached payload of `id`, unless it has been evicted or is older than `cacheTtl`. */
  cached(id: string, now: Millis): CachedPayload | undefined {
    this.#expire(now);
    return this.#cache.get(id);
  }

  /** Drops payloads older than `cacheTtl`: the oldest are first in insertion order. */
  #expire(now: Millis): void {
    const oldest = now - this.#cacheTtl;
    for (const [id, entry] of this.#cache) {
      if (entry.at >= oldest) return;
      this.#cache.delete(id);
    }
  }
}
