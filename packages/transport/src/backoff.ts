/** How reconnection attempts are spaced. */
export interface BackoffOptions {
  /** First delay in ms (default 100). */
  initialMs?: number;
  /** Upper bound in ms (default 30 s). */
  maxMs?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /** Fraction of each delay that is randomized (0–1, default 0.5). */
  jitter?: number;
}

/**
 * Exponential backoff with jitter. Jitter spreads the reconnects of many nodes that lost the same
 * peer at the same moment, so the peer is not hit by all of them at once when it comes back.
 */
export class Backoff {
  readonly #initial: number;
  readonly #max: number;
  readonly #factor: number;
  readonly #jitter: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions = {}, random: () => number = Math.random) {
    this.#initial = Math.max(1, options.initialMs ?? 100);
    this.#max = Math.max(this.#initial, options.maxMs ?? 30_000);
    this.#factor = Math.max(1, options.factor ?? 2);
    this.#jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
    this.#random = random;
  }

  /** Attempts made since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The delay before the next attempt; each call grows the next one. */
  next(): number {
    const base = Math.min(this.#max, this.#initial * this.#factor ** this.#attempt);
    this.#attempt++;
    return Math.round(base * (1 - this.#jitter * this.#random()));
  }

  reset(): void {
    this.#attempt = 0;
  }
}
