/** An event in virtual time. Ties on `time` are broken by `seq`: the order events were scheduled in. */
export interface Scheduled {
  readonly time: number;
  readonly seq: number;
}

/**
 * A binary min-heap on (time, seq). Deterministic: two events at the same virtual time come out in the
 * order they went in. Unbounded by design — the simulator's memory is the simulation's state — but its
 * size is reported so a run that floods itself is visible.
 */
export class EventQueue<E extends Scheduled> {
  readonly #heap: E[] = [];

  get size(): number {
    return this.#heap.length;
  }

  peek(): E | undefined {
    return this.#heap[0];
  }

  push(event: E): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(event);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as E;
      if (before(p, event)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = event;
  }

  pop(): E | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    const n = heap.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let child = l;
      if (r < n && before(heap[r] as E, heap[l] as E)) child = r;
      const c = heap[child] as E;
      if (before(last, c)) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
