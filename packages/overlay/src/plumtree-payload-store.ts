import type { Millis } from './protocol.js';

// What a PlumTree node remembers of the payloads it has seen: the ids (so a second copy is a duplicate)
// and, for a while, the payloads themselves (to answer Graft and Want). Both are bounded: the ids by
// count, the payloads by count, by their total bytes and by age; the oldest go first.

export interface CachedPayload {
  readonly payload: Uint8Array;
  /** Hops the payload had travelled to reach this node (0 at its origin). */
  readonly hops: number;
  readonly at: Millis;
  /** Lets go of the payload's memory once it leaves the cache (see PlumTree's `retain`). */
  readonly release: (() => void) | undefined;
}

export class PayloadStore {
  readonly #seenCapacity: number;
  readonly #cacheSize: number;
  readonly #cacheBytes: number;
  readonly #cacheTtl: Millis;
  /** Bytes of the payloads cached. */
  #bytes = 0;
  /** Seen ids in insertion order: the first is the oldest, evicted when full. */
  readonly #seen = new Set<string>();
  /** Payloads in insertion order (oldest first): evicted by count and by age. */
  readonly #cache = new Map<string, CachedPayload>();

  constructor(
    seenCapacity: number,
    cacheSize: number,
    cacheTtl: Millis,
    cacheBytes = Number.POSITIVE_INFINITY,
  ) {
    this.#seenCapacity = seenCapacity;
    this.#cacheSize = cacheSize;
    this.#cacheBytes = cacheBytes;
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

  /** Bytes of the payloads cached. */
  get cachedBytes(): number {
    return this.#bytes;
  }

  /** Whether `id` has been seen and not yet forgotten. */
  hasSeen(id: string): boolean {
    return this.#seen.has(id);
  }

  /** Marks `id` as seen and caches its payload, evicting the oldest past either bound. */
  remember(
    id: string,
    payload: Uint8Array,
    hops: number,
    now: Millis,
    release?: (() => void) | undefined,
  ): void {
    const seen = this.#seen;
    seen.add(id);
    if (seen.size > this.#seenCapacity) seen.delete(seen.values().next().value as string);
    const cache = this.#cache;
    const replaced = cache.get(id);
    if (replaced !== undefined) {
      this.#bytes -= replaced.payload.byteLength;
      cache.delete(id);
      replaced.release?.();
    }
    cache.set(id, { payload, hops, at: now, release });
    this.#bytes += payload.byteLength;
    // The newest payload stays even alone over the byte bound: it is the one most likely asked for.
    while (cache.size > 1 && (cache.size > this.#cacheSize || this.#bytes > this.#cacheBytes))
      this.#evictOldest();
    this.#expire(now);
  }

  #evictOldest(): void {
    const [id, entry] = this.#cache.entries().next().value as [string, CachedPayload];
    this.#cache.delete(id);
    this.#bytes -= entry.payload.byteLength;
    entry.release?.();
  }

  /** The cached payload of `id`, unless it has been evicted or is older than `cacheTtl`. */
  cached(id: string, now: Millis): CachedPayload | undefined {
    this.#expire(now);
    return this.#cache.get(id);
  }

  /** Drops payloads older than `cacheTtl`: the oldest are first in insertion order. */
  #expire(now: Millis): void {
    const oldest = now - this.#cacheTtl;
    for (const entry of this.#cache.values()) {
      if (entry.at >= oldest) return;
      this.#evictOldest();
    }
  }
}
