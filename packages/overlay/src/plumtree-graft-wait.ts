import type { Millis } from './protocol.js';

// How long a missing message's Graft waits, learned from how late pushes have been. A Graft for a
// payload that is only late costs a whole second copy, and it makes the link a tree link again, so the
// old parent's next pushes arrive twice until a Prune gets back to it — under load that is a whole
// pipe's worth of duplicates per Graft. So when pushes have lately arrived some time after a
// neighbour's announcement of the same message, a Graft waits about twice as long as the latest such
// lag, however long the fixed timeout is. The lag remembered halves every `LAG_HALF_LIFE`, so a
// quiet tree returns to the fixed timeout, and it never grows past `graftTimeoutMax`: a dead parent is
// still replaced within that.

/** How fast a remembered lag is forgotten (ms of the driver's clock for it to halve). */
const LAG_HALF_LIFE: Millis = 2000;

export class GraftWait {
  readonly #first: Millis;
  readonly #next: Millis;
  readonly #max: Millis;
  /** The largest lag lately seen (decayed to `#at`), and when. */
  #lag = 0;
  #at: Millis = 0;

  /** `first`/`next`: the fixed timeouts (PlumTree's `graftTimeout`, `graftTimeout2`); `max`: the ceiling. */
  constructor(first: Millis, next: Millis, max: Millis) {
    this.#first = first;
    this.#next = next;
    this.#max = Math.max(max, first);
  }

  /** Whether the timeouts adapt at all (a ceiling above the first timeout). */
  get adaptive(): boolean {
    return this.#max > this.#first;
  }

  /** A push arrived `lag` ms after the message was first announced by a lazy neighbour. */
  sample(lag: Millis, now: Millis): void {
    if (lag <= 0 || !this.adaptive) return;
    const current = this.lag(now);
    if (lag > current) {
      this.#lag = lag;
      this.#at = now;
    }
  }

  /** The remembered lag at `now`, decayed. */
  lag(now: Millis): Millis {
    if (this.#lag === 0) return 0;
    const elapsed = Math.max(0, now - this.#at);
    return this.#lag * 2 ** (-elapsed / LAG_HALF_LIFE);
  }

  /** How long to wait before the first Graft for a message announced now. */
  first(now: Millis): Millis {
    return Math.round(Math.min(this.#max, Math.max(this.#first, 2 * this.lag(now))));
  }

  /** How long to wait before trying the next announcer (after a Graft, or another deferral). */
  next(now: Millis): Millis {
    return Math.round(Math.min(this.#max, Math.max(this.#next, this.lag(now))));
  }
}
