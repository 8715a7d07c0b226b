/**
 * Buffers the Storage engine copies served chunks into, taken back once the transport has encoded
 * the reply. lmdb reads a large value either into a fresh buffer (`getBinary`: 1 MiB of new memory
 * per chunk served, with its page faults and the GC its external memory sets off) or into one buffer
 * it reuses for every read (`getBinaryFast`, valid until the next read); a reply may wait in a link's
 * queue before it is encoded, so it cannot refer to lmdb's buffer. A chunk is therefore copied from
 * lmdb's buffer into one of these, and the buffer is given back when the transport says it has
 * encoded the reply (core's `releaseWhenEncoded`). A reply never encoded (delivered in-process,
 * dropped, or sent by a transport that does not say) never gives its buffer back: it is left to the
 * GC, and never written into again.
 *
 * Bounded: at most `maxBuffers` free buffers and `maxBytes` of them are kept (a buffer given back
 * past either is left to the GC); all are let go after 2 s without a take, so an idle node keeps none.
 */

/** Buffers are sized in steps of this, so chunks of nearly equal size share them. */
const SIZE_STEP = 64 * 1024;
/** Free buffers are let go when none was taken for this long. */
const IDLE_MS = 2_000;

export interface ServeBufferStats {
  /** Buffers taken from the free list. */
  readonly reused: number;
  /** Buffers made because no free one fitted. */
  readonly allocated: number;
  /** Buffers given back after their reply was encoded. */
  readonly returned: number;
}

export class ServeBuffers {
  readonly #maxBuffers: number;
  readonly #maxBytes: number;
  readonly #free: Buffer[] = [];
  #freeBytes = 0;
  #reused = 0;
  #allocated = 0;
  #returned = 0;
  #used = false;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(maxBuffers = 16, maxBytes = 20 * 1024 * 1024) {
    this.#maxBuffers = maxBuffers;
    this.#maxBytes = maxBytes;
  }

  /** A buffer of at least `length` bytes nobody else holds: the most recently freed one that fits, else a new one. */
  take(length: number): Buffer {
    this.#used = true;
    const free = this.#free;
    for (let i = free.length - 1; i >= 0; i--) {
      const buffer = free[i] as Buffer;
      if (buffer.length < length) continue;
      free.splice(i, 1);
      this.#freeBytes -= buffer.length;
      this.#reused++;
      return buffer;
    }
    this.#allocated++;
    // Its own memory (never a slice of Node's shared pool), so it can be handed out again.
    return Buffer.allocUnsafeSlow(Math.ceil(length / SIZE_STEP) * SIZE_STEP);
  }

  /** Takes back a buffer from `take` that nothing refers to any more. */
  give(buffer: Buffer): void {
    this.#returned++;
    if (this.#free.length >= this.#maxBuffers || this.#freeBytes + buffer.length > this.#maxBytes) return;
    this.#free.push(buffer);
    this.#freeBytes += buffer.length;
    if (this.#idleTimer === undefined) {
      this.#idleTimer = setTimeout(this.#checkIdle, IDLE_MS);
      this.#idleTimer.unref();
    }
  }

  readonly #checkIdle = (): void => {
    this.#idleTimer = undefined;
    if (!this.#used) {
      this.#free.length = 0;
      this.#freeBytes = 0;
      return;
    }
    this.#used = false;
    this.#idleTimer = setTimeout(this.#checkIdle, IDLE_MS);
    this.#idleTimer.unref();
  };

  stats(): ServeBufferStats {
    return { reused: this.#reused, allocated: this.#allocated, returned: this.#returned };
  }
}
