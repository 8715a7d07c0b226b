/**
 * Bytes written to a connection but not yet handed to the socket. Every write is copied into large
 * slabs: the caller may reuse its buffer as soon as `write` returns, and all the writes of one tick
 * leave as a few large buffers instead of many small ones. A slab is reused until it is full, so a
 * stream of small writes costs one allocation per slab, not one per write. Slabs start at 4 KiB and
 * double while writes fill them, up to `slabBytes`: an idle connection holds little.
 */
export class WriteBatch {
  readonly #slabBytes: number;
  #full: Buffer[] = [];
  /** What to call once the adopted parts not yet taken are written (see `takeWritten`). */
  #written: (() => void)[] = [];
  #slab: Buffer | undefined;
  #lastSize = 0;
  #start = 0;
  #used = 0;
  #bytes = 0;

  constructor(slabBytes = 64 * 1024) {
    this.#slabBytes = slabBytes;
  }

  /** Bytes appended and not yet taken. */
  get bytes(): number {
    return this.#bytes;
  }

  append(data: Uint8Array): void {
    let offset = 0;
    while (offset < data.length) {
      if (this.#slab === undefined || this.#used === this.#slab.length) {
        this.#retireSlab();
        // A write larger than a slab gets a buffer of its own size: one allocation, one copy.
        const next = Math.min(this.#slabBytes, Math.max(4096, 2 * this.#lastSize));
        if (data.length - offset <= next) this.#lastSize = next;
        this.#slab = Buffer.allocUnsafe(Math.max(next, data.length - offset));
        this.#start = 0;
        this.#used = 0;
      }
      const count = Math.min(data.length - offset, this.#slab.length - this.#used);
      this.#slab.set(data.subarray(offset, offset + count), this.#used);
      this.#used += count;
      offset += count;
    }
    this.#bytes += data.length;
  }

  /**
   * Appends `data` without copying it: the caller hands it over and does not write it again until
   * `written` (if given) is called, which the connection does once the socket is done with it.
   */
  adopt(data: Uint8Array, written?: () => void): void {
    if (data.length === 0) {
      written?.();
      return;
    }
    if (written !== undefined) this.#written.push(written);
    // What the current slab holds was appended first: it leaves first.
    if (this.#slab !== undefined && this.#used > this.#start) {
      this.#full.push(this.#slab.subarray(this.#start, this.#used));
      this.#start = this.#used;
    }
    this.#full.push(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length));
    this.#bytes += data.length;
  }

  /** Everything appended since the last take, in order. The returned buffers are never written again. */
  take(): Buffer[] {
    const parts = this.#full;
    this.#full = [];
    if (this.#slab !== undefined && this.#used > this.#start) {
      parts.push(this.#slab.subarray(this.#start, this.#used));
      this.#start = this.#used;
    }
    // A slab with no room left, or one sized for a single large write, is not kept for later.
    if (
      this.#slab !== undefined &&
      (this.#slab.length - this.#used < 256 || this.#slab.length > this.#slabBytes)
    ) {
      this.#slab = undefined;
    }
    this.#bytes = 0;
    return parts;
  }

  /**
   * The `written` callbacks of the parts adopted since the last call (undefined when there are none):
   * the connection calls them once everything it took before this call has been written.
   */
  takeWritten(): (() => void)[] | undefined {
    if (this.#written.length === 0) return undefined;
    const written = this.#written;
    this.#written = [];
    return written;
  }

  /** Drops everything not yet taken (their `written` callbacks are never called). */
  clear(): void {
    this.#written = [];
    this.#full = [];
    this.#slab = undefined;
    this.#bytes = 0;
  }

  #retireSlab(): void {
    if (this.#slab !== undefined && this.#used > this.#start) {
      this.#full.push(this.#slab.subarray(this.#start, this.#used));
    }
    this.#slab = undefined;
  }
}
