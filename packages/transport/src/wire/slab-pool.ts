/** Smallest slab the pool hands out: also the first slab of a connection's frame writer. */
export const MIN_SLAB_BYTES: number = 4096;
/**
 * Largest slab kept for reuse; a larger one (a frame over 2 MiB) is left to the GC. 2 MiB, not 1: a
 * frame carrying a 1 MiB payload (a storage chunk) is a little over 1 MiB, and a slab of its own per
 * such frame was fresh memory, page faults and most of a serving process's GC.
 */
export const MAX_POOLED_SLAB_BYTES = 2 << 20;

/** Bounds on what a `SlabPool` keeps free. */
export interface SlabPoolOptions {
  /** Free slabs kept per size class (default 32). */
  readonly perClass?: number;
  /** Free bytes kept over all classes (default 8 MiB). */
  readonly maxBytes?: number;
}

/** Counts since the pool was made, and what it holds now. */
export interface SlabPoolStats {
  /** Slabs handed out that were allocated. */
  readonly allocated: number;
  /** Slabs handed out that were reused. */
  readonly reused: number;
  /** Slabs given back and kept. */
  readonly recycled: number;
  /** Slabs given back and dropped because their class or the pool was full (left to the GC). */
  readonly dropped: number;
  /** Free slabs held now, and their bytes. */
  readonly free: number;
  /** Bytes of the free slabs. */
  readonly freeBytes: number;
}

/**
 * Outgoing slabs kept once the socket is done with them, so a busy link does not allocate a fresh
 * buffer for every batch of frames (each one external memory the GC counts, and which forces full
 * mark-compacts at a high send rate). Sizes are powers of two from 4 KiB to 2 MiB; a class keeps at
 * most `perClass` free slabs and the pool at most `maxBytes`: a slab given back to a full class or
 * pool is dropped and left to the GC, as if there were no pool. Only the frame writer gives slabs
 * back, and only once the connection has said it no longer refers to any byte of them.
 */
export class SlabPool {
  readonly #perClass: number;
  readonly #maxBytes: number;
  /** Free slabs by class: index `log2(size) - 12`. */
  readonly #free: Buffer[][] = [];
  #freeBytes = 0;
  #freeCount = 0;
  #allocated = 0;
  #reused = 0;
  #recycled = 0;
  #dropped = 0;

  constructor(options: SlabPoolOptions = {}) {
    this.#perClass = options.perClass ?? 32;
    this.#maxBytes = options.maxBytes ?? 8 * 1024 * 1024;
    for (let size = MIN_SLAB_BYTES; size <= MAX_POOLED_SLAB_BYTES; size *= 2) this.#free.push([]);
  }

  /** The size of the slab `acquire(bytes)` hands out: `bytes` rounded up to its class. */
  static classSize(bytes: number): number {
    if (bytes <= MIN_SLAB_BYTES) return MIN_SLAB_BYTES;
    if (bytes > MAX_POOLED_SLAB_BYTES) return bytes;
    return 2 ** Math.ceil(Math.log2(bytes));
  }

  /**
   * A slab of at least `bytes` (exactly `classSize(bytes)`), reused when one is free. Its contents are
   * whatever was there: the caller writes before it reads. Every slab has its own ArrayBuffer.
   */
  acquire(bytes: number): Buffer {
    const size = SlabPool.classSize(bytes);
    const free = this.#free[classIndex(size)];
    const slab = free?.pop();
    if (slab !== undefined) {
      this.#freeBytes -= slab.length;
      this.#freeCount--;
      this.#reused++;
      return slab;
    }
    this.#allocated++;
    // Never from Node's shared 8 KiB pool: a slab must own its memory to be given back whole.
    return Buffer.allocUnsafeSlow(size);
  }

  /** Gives back a slab from `acquire` that nothing refers to any more; kept if there is room. */
  recycle(slab: Buffer): void {
    const size = slab.length;
    const free = size <= MAX_POOLED_SLAB_BYTES ? this.#free[classIndex(size)] : undefined;
    if (
      free === undefined ||
      SlabPool.classSize(size) !== size ||
      free.length >= this.#perClass ||
      this.#freeBytes + size > this.#maxBytes
    ) {
      this.#dropped++;
      return;
    }
    free.push(slab);
    this.#freeBytes += size;
    this.#freeCount++;
    this.#recycled++;
  }

  /** What the pool has done and holds (a snapshot). */
  stats(): SlabPoolStats {
    return {
      allocated: this.#allocated,
      reused: this.#reused,
      recycled: this.#recycled,
      dropped: this.#dropped,
      free: this.#freeCount,
      freeBytes: this.#freeBytes,
    };
  }
}

function classIndex(size: number): number {
  return Math.log2(size) - 12;
}

/** The pool every connection's frame writer shares (one per process: links come and go, slabs stay). */
export const sharedSlabPool = new SlabPool();
