/**
 * Buffers for frames that span reads, reused once the consumer of a frame's message hands it back
 * (`releaseMessageBytes`). Such a frame is copied into one buffer of its own; a fresh buffer per
 * frame means fresh pages (a 1 MiB copy into fresh memory costs about twenty times one into memory
 * already touched) and external memory the GC has to chase: a relay reassembling 16 KiB batches
 * into fresh buffers runs mostly full collections. A buffer is only ever taken from a free list, so
 * one still held by a consumer (never handed back, or not yet) is never written into; a buffer
 * handed back when the lists are full is left to the GC.
 *
 * Small frames (below 256 KiB) are kept in a free list per size class (four per power of two), so a
 * small frame never holds a big buffer; large ones in one list of buffers sized in 64 KiB steps, the most recently
 * freed one big enough taken.
 */

/** Frames from this size on are read into pooled buffers; smaller ones into fresh ones. */
export const MIN_POOLED_FRAME_BYTES = 8 * 1024;
/** Frames from this size on share the list of large buffers. */
const LARGE_FRAME_BYTES = 256 * 1024;
/** Large pooled buffers are sized in steps of this, so frames of nearly equal size share them. */
const SIZE_STEP = 64 * 1024;
/** Free buffers are let go when none was taken for this long: an idle process keeps none. */
const IDLE_MS = 2_000;

export interface FramePoolOptions {
  /** Free large buffers kept, at most (default 16). */
  readonly maxBuffers?: number;
  /**
   * Free small buffers kept per size class, at most (default 128): a relay may hold that many
   * batches in its mailbox at once, and hands them all back.
   */
  readonly maxSmallPerClass?: number;
  /** Bytes of free buffers kept, at most (default 20 MiB). */
  readonly maxBytes?: number;
}

export interface FramePoolStats {
  /** Frames read into a buffer from a free list. */
  readonly reused: number;
  /** Frames for which a new buffer was made (the free lists had none that fit). */
  readonly allocated: number;
  /** Buffers handed back. */
  readonly returned: number;
  /** Buffers handed back while the list was full: left to the GC. */
  readonly dropped: number;
  /** Free buffers now, and their bytes. */
  readonly free: number;
  readonly freeBytes: number;
}

export class FramePool {
  readonly #maxBuffers: number;
  readonly #maxSmallPerClass: number;
  readonly #maxBytes: number;
  /** Large free buffers. */
  readonly #free: Buffer[] = [];
  /** Small free buffers, by their size class. */
  readonly #small = new Map<number, Buffer[]>();
  #freeCount = 0;
  #freeBytes = 0;
  #reused = 0;
  #allocated = 0;
  #returned = 0;
  #dropped = 0;
  /** Set by `take`; the idle timer lets the free buffers go when it finds it clear. */
  #used = false;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(options: FramePoolOptions = {}) {
    this.#maxBuffers = options.maxBuffers ?? 16;
    this.#maxSmallPerClass = options.maxSmallPerClass ?? 128;
    this.#maxBytes = options.maxBytes ?? 20 * 1024 * 1024;
  }

  /**
   * A buffer of at least `length` bytes that nobody else holds: the most recently freed one of its
   * size class (its pages are the likeliest to be warm), else a new one.
   */
  take(length: number): Buffer {
    this.#used = true;
    if (length < LARGE_FRAME_BYTES) {
      const size = smallSize(length);
      const buffer = this.#small.get(size)?.pop();
      if (buffer !== undefined) return this.#reuse(buffer);
      return this.#allocate(size);
    }
    const free = this.#free;
    for (let i = free.length - 1; i >= 0; i--) {
      const buffer = free[i] as Buffer;
      if (buffer.length < length) continue;
      free.splice(i, 1);
      return this.#reuse(buffer);
    }
    return this.#allocate(Math.ceil(length / SIZE_STEP) * SIZE_STEP);
  }

  #reuse(buffer: Buffer): Buffer {
    this.#freeCount--;
    this.#freeBytes -= buffer.length;
    this.#reused++;
    return buffer;
  }

  #allocate(size: number): Buffer {
    this.#allocated++;
    // Its own memory (never a slice of Node's shared pool), so it can be kept and handed out again.
    return Buffer.allocUnsafeSlow(size);
  }

  /** Takes back a buffer from `take` that nobody uses any more. */
  give(buffer: Buffer): void {
    this.#returned++;
    const small = buffer.length < LARGE_FRAME_BYTES;
    let list = small ? this.#small.get(buffer.length) : this.#free;
    const max = small ? this.#maxSmallPerClass : this.#maxBuffers;
    if ((list?.length ?? 0) >= max || this.#freeBytes + buffer.length > this.#maxBytes) {
      this.#dropped++;
      return;
    }
    if (list === undefined) {
      list = [];
      this.#small.set(buffer.length, list);
    }
    list.push(buffer);
    this.#freeCount++;
    this.#freeBytes += buffer.length;
    if (this.#idleTimer === undefined) {
      this.#idleTimer = setTimeout(this.#checkIdle, IDLE_MS);
      this.#idleTimer.unref();
    }
  }

  /** Lets every free buffer go (the GC frees them once nothing else refers to them). */
  clear(): void {
    this.#free.length = 0;
    this.#small.clear();
    this.#freeCount = 0;
    this.#freeBytes = 0;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  readonly #checkIdle = (): void => {
    this.#idleTimer = undefined;
    if (!this.#used) {
      this.clear();
      return;
    }
    this.#used = false;
    this.#idleTimer = setTimeout(this.#checkIdle, IDLE_MS);
    this.#idleTimer.unref();
  };

  stats(): FramePoolStats {
    return {
      reused: this.#reused,
      allocated: this.#allocated,
      returned: this.#returned,
      dropped: this.#dropped,
      free: this.#freeCount,
      freeBytes: this.#freeBytes,
    };
  }
}

/**
 * A small frame's size class: `length` rounded up to a quarter of the power of two below it (a
 * 16.4 KiB frame gets 20 KiB), so a consumer that never hands a buffer back wastes at most a quarter.
 */
function smallSize(length: number): number {
  const step = 2 ** (Math.floor(Math.log2(length)) - 2);
  return Math.ceil(length / step) * step;
}

/** The pool every connection of this process reads its large frames into. */
export const sharedFramePool = new FramePool();
