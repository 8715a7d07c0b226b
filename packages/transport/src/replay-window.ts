/**
 * Which message ids a session has already delivered, over a sliding window of the most recent
 * `size` ids: a duplicated frame is recognised and dropped, while frames that arrive out of order
 * (within the window) are still delivered once. Ids come from the peer's per-node counter, so on one
 * link they only grow; an id older than the window is treated as already seen.
 */
export class ReplayWindow {
  readonly #bits: Uint32Array;
  readonly #size: number;
  /** Highest id seen; -1 before the first. */
  #max = -1;

  constructor(size = 8192) {
    this.#size = size;
    this.#bits = new Uint32Array(size / 32);
  }

  /** Records `id`; returns false when it was seen before (or is too old to tell). */
  accept(id: number): boolean {
    if (id > this.#max) {
      // Clear the slots the window slides over: none before the first id (the bits start clear),
      // all of them at once after a long jump (bit by bit, 8192 slots cost about 30 µs).
      if (this.#max >= 0) {
        const jump = id - this.#max;
        if (jump >= this.#size) this.#bits.fill(0);
        else for (let i = 1; i <= jump; i++) this.#clear(this.#max + i);
      }
      this.#max = id;
      this.#set(id);
      return true;
    }
    if (id <= this.#max - this.#size) return false;
    if (this.#has(id)) return false;
    this.#set(id);
    return true;
  }

  #slot(id: number): number {
    return ((id % this.#size) + this.#size) % this.#size;
  }
  #has(id: number): boolean {
    const s = this.#slot(id);
    return ((this.#bits[s >>> 5] as number) & (1 << (s & 31))) !== 0;
  }
  #set(id: number): void {
    const s = this.#slot(id);
    this.#bits[s >>> 5] = (this.#bits[s >>> 5] as number) | (1 << (s & 31));
  }
  #clear(id: number): void {
    const s = this.#slot(id);
    this.#bits[s >>> 5] = (this.#bits[s >>> 5] as number) & ~(1 << (s & 31));
  }
}
