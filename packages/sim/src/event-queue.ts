/** An event in virtual time. Ties on `time` are broken by `seq`: the order events were scheduled in. */
export interface Scheduled {
  readonly time: number;
  readonly seq: number;
}

/**
 * A binary min-heap on (time, seq). Deterministic: two events at the same virtual time come out in the
 * order they went in. The keys live in their own arrays beside the events, so comparisons touch only
 * numbers. Unbounded here; the simulator bounds it (`maxQueuedEvents`).
 */
export class EventQueue<E extends Scheduled> {
  readonly #times: number[] = [];
  readonly #seqs: number[] = [];
  readonly #events: E[] = [];

  get size(): number {
    return this.#events.length;
  }

  peek(): E | undefined {
    return this.#events[0];
  }

  /** The time of the first event, or +Infinity when empty. */
  peekTime(): number {
    return this.#events.length === 0 ? Number.POSITIVE_INFINITY : (this.#times[0] as number);
  }

  push(event: E): void {
    const times = this.#times;
    const seqs = this.#seqs;
    const events = this.#events;
    const time = event.time;
    const seq = event.seq;
    let i = events.length;
    times.push(time);
    seqs.push(seq);
    events.push(event);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pt = times[parent] as number;
      if (pt < time || (pt === time && (seqs[parent] as number) < seq)) break;
      times[i] = pt;
      seqs[i] = seqs[parent] as number;
      events[i] = events[parent] as E;
      i = parent;
    }
    times[i] = time;
    seqs[i] = seq;
    events[i] = event;
  }

  pop(): E | undefined {
    const times = this.#times;
    const seqs = this.#seqs;
    const events = this.#events;
    const top = events[0];
    if (top === undefined) return undefined;
    const lastEvent = events.pop() as E;
    const lastTime = times.pop() as number;
    const lastSeq = seqs.pop() as number;
    const n = events.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      let ct = times[child] as number;
      let cs = seqs[child] as number;
      const r = child + 1;
      if (r < n) {
        const rt = times[r] as number;
        const rs = seqs[r] as number;
        if (rt < ct || (rt === ct && rs < cs)) {
          child = r;
          ct = rt;
          cs = rs;
        }
      }
      if (lastTime < ct || (lastTime === ct && lastSeq < cs)) break;
      times[i] = ct;
      seqs[i] = cs;
      events[i] = events[child] as E;
      i = child;
    }
    times[i] = lastTime;
    seqs[i] = lastSeq;
    events[i] = lastEvent;
    return top;
  }
}
