/**
 * Cipher objects made ahead for a session's next counters. Making a node:crypto AES-GCM cipher
 * costs far more than using it on a small message, and most on a process that has just woken (as
 * each of a relayed round trip's four AEAD calls does): about 16 µs to make one then, 10 µs right
 * after the previous message's, 3–5 µs each for the second and later of a run made together. So
 * the objects for the next counters are made together once the current run is used up: one
 * message in a run pays for the run, the others for none. Runs are long (32) so that most round
 * trips meet none of the four calls paying (their median is then the cheap path).
 *
 * Each object is used once, for the counter it was made for (its nonce), or dropped unused. They
 * hold native memory (about 2 KB each), so all the runs of a sealer, or of an opener, share a
 * budget; past it, messages make their own cipher as they go.
 */

/** Prepared objects held by one sealer or opener, over all its sessions. */
export class PreparedBudget {
  held = 0;
  constructor(readonly max: number) {}
}

/** The objects prepared for one session's counters `[base, base + length)` (each taken at most once). */
export class PreparedRun<C> {
  readonly #budget: PreparedBudget;
  #items: (C | undefined)[] = [];
  #base = 0;
  #left = 0;

  constructor(budget: PreparedBudget) {
    this.#budget = budget;
  }

  /** Objects prepared and not yet taken. */
  get left(): number {
    return this.#left;
  }

  /** The object made for `counter`, if one was and is not taken yet (never given out twice). */
  take(counter: number): C | undefined {
    const index = counter - this.#base;
    if (index < 0 || index >= this.#items.length) return undefined;
    const item = this.#items[index];
    if (item === undefined) return undefined;
    this.#items[index] = undefined;
    this.#left--;
    this.#budget.held--;
    return item;
  }

  /** True when `counter` lies past the prepared run: time to prepare the next. */
  endsBefore(counter: number): boolean {
    return counter >= this.#base + this.#items.length;
  }

  /** Drops what is left, then prepares up to `count` objects for `from`, `from + 1`, … within the budget. */
  fill(from: number, count: number, make: (counter: number) => C): void {
    this.clear();
    const budget = this.#budget;
    const n = Math.max(0, Math.min(count, budget.max - budget.held));
    const items = this.#items;
    for (let i = 0; i < n; i++) items.push(make(from + i));
    this.#base = from;
    this.#left = n;
    budget.held += n;
  }

  /** Drops every object not taken (the session ends, or its counters moved on). */
  clear(): void {
    this.#budget.held -= this.#left;
    this.#left = 0;
    this.#items = [];
  }
}
