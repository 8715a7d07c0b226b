import type { ChunkCommitment } from './commitment.js';

/** Chunks whose commitments are remembered; the least recently added chunk is forgotten first. */
const DEFAULT_MAX_CHUNKS = 100_000;
/** Commitments kept per chunk (one per node, the latest expiry wins). */
const MAX_PER_CHUNK = 8;

/**
 * Which nodes promised to keep which chunk. Bounded in both dimensions: when full, the oldest
 * chunk's entry is evicted (a Map iterates in insertion order, and a refreshed entry moves last).
 */
export class CommitmentCache {
  readonly #byChunk = new Map<string, ChunkCommitment[]>();
  readonly #maxChunks: number;
  evicted = 0;

  constructor(maxChunks = DEFAULT_MAX_CHUNKS) {
    this.#maxChunks = maxChunks;
  }

  get size(): number {
    return this.#byChunk.size;
  }

  add(commitment: ChunkCommitment): void {
    const key = Buffer.from(commitment.chunk).toString('base64');
    const list = (this.#byChunk.get(key) ?? []).filter((c) => c.node !== commitment.node);
    this.#byChunk.delete(key);
    list.push(commitment);
    list.sort((a, b) => b.expiry - a.expiry);
    this.#byChunk.set(key, list.slice(0, MAX_PER_CHUNK));
    if (this.#byChunk.size > this.#maxChunks) {
      const oldest = this.#byChunk.keys().next().value;
      if (oldest !== undefined) {
        this.#byChunk.delete(oldest);
        this.evicted++;
      }
    }
  }

  /** Unexpired commitments for a chunk, latest expiry first. */
  get(chunk: Uint8Array, now = Date.now()): ChunkCommitment[] {
    return (this.#byChunk.get(Buffer.from(chunk).toString('base64')) ?? []).filter((c) => c.expiry > now);
  }
}
