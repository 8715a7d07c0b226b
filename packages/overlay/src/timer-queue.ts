/** A timer waiting to fire. */
interface Pending<T> {
  readonly at: number;
  readonly seq: number;
  readonly timer: T;
}

/**
 * The runner's timers on real time: a min-heap of one-shot timers behind a single `setTimeout`, armed
 * for the earliest. Bounded: past `max` pending timers a new one is refused (counted by the caller).
 */
export class TimerQueue<T> {
  readonly #heap: Pending<T>[] = [];
  readonly #max: number;
  readonly #now: () => number;
  readonly #fire: (timer: T) => void;
  #seq = 0;
  #handle: NodeJS.Timeout | undefined;
  #armedFor = Number.POSITIVE_INFINITY;
  #stopped = false;

  constructor(options: { max: number; now: () => number; fire: (timer: T) => void }) {
    this.#max = options.max;
    this.#now = options.now;
    this.#fire = options.fire;
  }

  get size(): number {
    return this.#heap.length;
  }

  /** Schedules `timer` after `delay` ms; false when the queue is full or stopped. */
  add(timer: T, delay: number): boolean {
    if (this.#stopped || this.#heap.length >= this.#max) return false;
    // biome-ignore lint/complexity/useMathMinMax: Math.max(0, NaN) is NaN; this turns a NaN delay into 0
    const entry = { at: this.#now() + (delay > 0 ? delay : 0), seq: this.#seq++, timer };
    const heap = this.#heap;
    let i = heap.length;
    heap.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as Pending<T>;
      if (earlier(p, entry)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = entry;
    this.#arm();
    return true;
  }

  stop(): void {
    this.#stopped = true;
    this.#heap.length = 0;
    if (this.#handle !== undefined) clearTimeout(this.#handle);
    this.#handle = undefined;
  }

  #arm(): void {
    const first = this.#heap[0];
    if (first === undefined || first.at >= this.#armedFor) return;
    if (this.#handle !== undefined) clearTimeout(this.#handle);
    this.#armedFor = first.at;
    this.#handle = setTimeout(() => this.#run(), Math.max(0, first.at - this.#now()));
    this.#handle.unref?.();
  }

  #run(): void {
    this.#handle = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    const now = this.#now();
    for (;;) {
      const first = this.#heap[0];
      if (first === undefined || first.at > now || this.#stopped) break;
      this.#pop();
      this.#fire(first.timer);
    }
    if (!this.#stopped) this.#arm();
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    const n = heap.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let child = l;
      if (r < n && earlier(heap[r] as Pending<T>, heap[l] as Pending<T>)) child = r;
      const c = heap[child] as Pending<T>;
      if (earlier(last, c)) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = last;
  }
}

function earlier<T>(a: Pending<T>, b: Pending<T>): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
