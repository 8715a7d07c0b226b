/**
 * Runs `work` on each item queued during this turn of the event loop, once the turn is over
 * (`setImmediate`: after the turn's writes), each item once however often it was queued. Bounded by
 * what the caller queues in one turn (here: its sessions).
 */
export class AfterTurn<T> {
  readonly #items = new Set<T>();
  readonly #work: (item: T) => void;
  #scheduled = false;

  constructor(work: (item: T) => void) {
    this.#work = work;
  }

  add(item: T): void {
    this.#items.add(item);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#run);
  }

  readonly #run = (): void => {
    this.#scheduled = false;
    for (const item of this.#items) this.#work(item);
    this.#items.clear();
  };
}
