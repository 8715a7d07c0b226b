/**
 * A token bucket: `rate` tokens per second, at most `burst` held. Refilled lazily on use, so an idle
 * bucket costs nothing.
 */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.#tokens = burst;
    this.#at = now();
  }

  /** Takes `n` tokens if there are that many; false (and nothing taken) otherwise. */
  take(n: number): boolean {
    if (this.rate === Number.POSITIVE_INFINITY) return true;
    const now = this.now();
    if (now > this.#at) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) * this.rate) / 1000);
      this.#at = now;
    }
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }

  /** True when the bucket is full again (it can be forgotten without changing behaviour). */
  get full(): boolean {
    const now = this.now();
    return this.#tokens + ((now - this.#at) * this.rate) / 1000 >= this.burst;
  }
}
