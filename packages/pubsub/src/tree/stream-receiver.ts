// Per-publisher ordering on the subscriber side: each (topic, publisher) stream is delivered in
// sequence order, once. An event ahead of the cursor is held (bounded) while the missing ones are
// fetched from neighbours; a gap that stays open past `gapTimeoutMs` is skipped and counted, so one
// lost event never stalls a stream. An event at or behind the cursor is a duplicate (a replay the
// broadcast layer's bounded seen set no longer remembers); an epoch older than the stream's is stale.

export interface StreamEvent {
  readonly epoch: number;
  readonly seq: number;
  /** Milliseconds since the Unix epoch; 0 for none. */
  readonly expiry: number;
}

export interface StreamPosition {
  readonly epoch: number;
  /** The last sequence number delivered (or skipped). */
  readonly cursor: number;
}

export interface StreamReceiverOptions<E extends StreamEvent> {
  /** Items (batches, for DomainPubSub) held per stream while a gap is open; past it the gap is skipped (default 1024). */
  readonly reorderWindow?: number;
  /** Most sequence numbers asked for in one gap: the history neighbours keep (default 1024, DomainPubSub's tree cache). */
  readonly maxFetch?: number;
  /**
   * How long a gap may stay open before it is skipped (default 30,000 ms, half PlumTree's cache
   * lifetime): while neighbours may still hold the missing batches they are asked for again, since
   * a gap is usually a message a congested link dropped, and its recovery crosses the same links.
   */
  readonly gapTimeoutMs?: number;
  /** While a gap is open, what is still missing is asked for again this often (default 1000 ms). */
  readonly fetchRetryMs?: number;
  /**
   * A stream first seen with no saved position collects events this long and starts at the lowest
   * (default 500 ms): while a tree forms, a later event can overtake earlier ones by another path,
   * and the stream must not start past them.
   */
  readonly startWindowMs?: number;
  readonly deliver: (stream: string, event: E) => void;
  /** Ask neighbours for these sequence numbers of the stream's epoch. */
  readonly fetch: (stream: string, epoch: number, seqs: number[]) => void;
  /**
   * Where a stream starts when first seen with `event`: a cursor persisted before a restart, or
   * cursor 0 of the event's epoch when the subscriber was there before the publisher's session began.
   * Undefined: start at the first events seen (see `startWindowMs`).
   */
  readonly initial?: (stream: string, event: E) => StreamPosition | undefined;
}

export const DEFAULT_GAP_TIMEOUT_MS = 30_000;

export type StreamOutcome = 'delivered' | 'held' | 'duplicate' | 'stale' | 'expired';

interface Stream<E> {
  epoch: number;
  cursor: number;
  /** Highest sequence number already asked for. */
  requested: number;
  readonly held: Map<number, E>;
  gapSince: number | undefined;
  /** When the open gap was last asked for. */
  fetchedAt: number;
  /** Until when a fresh stream collects events before it starts; undefined once started. */
  startsAt: number | undefined;
}

export interface StreamCounters {
  delivered: number;
  duplicates: number;
  stale: number;
  expired: number;
  /** Gaps opened, sequence numbers fetched, and those given up on (skipped). */
  gaps: number;
  fetched: number;
  missed: number;
}

export class StreamReceiver<E extends StreamEvent> {
  readonly #o: Required<Omit<StreamReceiverOptions<E>, 'initial'>> &
    Pick<StreamReceiverOptions<E>, 'initial'>;
  readonly #streams = new Map<string, Stream<E>>();
  readonly counters: StreamCounters = {
    delivered: 0,
    duplicates: 0,
    stale: 0,
    expired: 0,
    gaps: 0,
    fetched: 0,
    missed: 0,
  };

  constructor(options: StreamReceiverOptions<E>) {
    this.#o = {
      ...options,
      reorderWindow: options.reorderWindow ?? 1024,
      maxFetch: options.maxFetch ?? 1024,
      gapTimeoutMs: options.gapTimeoutMs ?? DEFAULT_GAP_TIMEOUT_MS,
      startWindowMs: options.startWindowMs ?? 500,
      fetchRetryMs: options.fetchRetryMs ?? 1000,
    };
  }

  offer(stream: string, event: E, now: number): StreamOutcome {
    if (event.expiry !== 0 && event.expiry < now) {
      this.counters.expired++;
      return 'expired';
    }
    let s = this.#streams.get(stream);
    if (s === undefined) {
      const initial = this.#o.initial?.(stream, event);
      const cursor =
        initial === undefined ? event.seq - 1 : initial.epoch === event.epoch ? initial.cursor : 0;
      s = {
        epoch: event.epoch,
        cursor,
        requested: cursor,
        held: new Map(),
        gapSince: undefined,
        fetchedAt: now,
        startsAt:
          initial === undefined && this.#o.startWindowMs > 0 ? now + this.#o.startWindowMs : undefined,
      };
      if (initial !== undefined && initial.epoch > event.epoch) s.epoch = initial.epoch;
      this.#streams.set(stream, s);
    }
    if (event.epoch < s.epoch) {
      this.counters.stale++;
      return 'stale';
    }
    if (event.epoch > s.epoch) {
      // The publisher restarted: what is held of the old session goes out, the new one starts at 1.
      this.#drainAll(stream, s);
      s.epoch = event.epoch;
      s.cursor = 0;
      s.requested = 0;
    }
    if (s.startsAt !== undefined) {
      if (s.held.has(event.seq)) {
        this.counters.duplicates++;
        return 'duplicate';
      }
      if (now < s.startsAt && s.held.size < this.#o.reorderWindow) {
        s.held.set(event.seq, event);
        return 'held';
      }
      s.held.set(event.seq, event);
      this.#begin(stream, s, now);
      return 'delivered';
    }
    if (event.seq <= s.cursor || s.held.has(event.seq)) {
      this.counters.duplicates++;
      return 'duplicate';
    }
    if (event.seq === s.cursor + 1) {
      this.#deliver(stream, s, event);
      this.#drain(stream, s, now);
      return 'delivered';
    }
    s.held.set(event.seq, event);
    if (s.gapSince === undefined) {
      s.gapSince = now;
      this.counters.gaps++;
    }
    this.#request(stream, s, event.seq - 1, now);
    if (s.held.size > this.#o.reorderWindow) this.#skipGap(stream, s, now);
    return 'held';
  }

  /** Skips gaps open longer than `gapTimeoutMs`; call it on a timer. */
  tick(now: number): void {
    for (const [stream, s] of this.#streams) {
      if (s.startsAt !== undefined) {
        if (now >= s.startsAt) this.#begin(stream, s, now);
        continue;
      }
      if (s.gapSince === undefined) continue;
      if (now - s.gapSince >= this.#o.gapTimeoutMs) this.#skipGap(stream, s, now);
      else if (now - s.fetchedAt >= this.#o.fetchRetryMs) this.#refetch(stream, s, now);
    }
  }

  position(stream: string): StreamPosition | undefined {
    const s = this.#streams.get(stream);
    return s === undefined ? undefined : { epoch: s.epoch, cursor: s.cursor };
  }

  positions(): Map<string, StreamPosition> {
    const out = new Map<string, StreamPosition>();
    for (const [stream, s] of this.#streams) out.set(stream, { epoch: s.epoch, cursor: s.cursor });
    return out;
  }

  /** Events held over all streams. */
  get held(): number {
    let n = 0;
    for (const s of this.#streams.values()) n += s.held.size;
    return n;
  }

  /** A fresh stream's collection window closed: it starts at the lowest event it holds. */
  #begin(stream: string, s: Stream<E>, now: number): void {
    s.startsAt = undefined;
    let first = Number.POSITIVE_INFINITY;
    for (const seq of s.held.keys()) if (seq < first) first = seq;
    if (first === Number.POSITIVE_INFINITY) return;
    s.cursor = first - 1;
    s.requested = s.cursor;
    this.#drain(stream, s, now);
    if (s.held.size > 0) {
      this.counters.gaps++;
      let last = 0;
      for (const seq of s.held.keys()) if (seq > last) last = seq;
      this.#request(stream, s, last - 1, now);
    }
  }

  #deliver(stream: string, s: Stream<E>, event: E): void {
    s.cursor = event.seq;
    if (s.requested < s.cursor) s.requested = s.cursor;
    this.counters.delivered++;
    this.#o.deliver(stream, event);
  }

  #drain(stream: string, s: Stream<E>, now: number): void {
    for (let next = s.held.get(s.cursor + 1); next !== undefined; next = s.held.get(s.cursor + 1)) {
      s.held.delete(next.seq);
      if (next.expiry !== 0 && next.expiry < now) {
        this.counters.expired++;
        s.cursor = next.seq;
        continue;
      }
      this.#deliver(stream, s, next);
    }
    s.gapSince = s.held.size === 0 ? undefined : now;
  }

  /** Gives up the lowest open gap: the cursor jumps to just before the first held event. */
  #skipGap(stream: string, s: Stream<E>, now: number): void {
    let first = Number.POSITIVE_INFINITY;
    for (const seq of s.held.keys()) if (seq < first) first = seq;
    if (first === Number.POSITIVE_INFINITY) {
      s.gapSince = undefined;
      return;
    }
    this.counters.missed += first - s.cursor - 1;
    s.cursor = first - 1;
    this.#drain(stream, s, now);
  }

  #drainAll(stream: string, s: Stream<E>): void {
    for (const seq of [...s.held.keys()].sort((a, b) => a - b)) {
      this.#deliver(stream, s, s.held.get(seq) as E);
    }
    s.held.clear();
    s.gapSince = undefined;
  }

  /** Asks again for every sequence number still missing below the highest held (a Want can be lost too). */
  #refetch(stream: string, s: Stream<E>, now: number): void {
    s.fetchedAt = now;
    let last = 0;
    for (const seq of s.held.keys()) if (seq > last) last = seq;
    const seqs: number[] = [];
    for (let seq = Math.max(s.cursor + 1, last - this.#o.maxFetch); seq < last; seq++)
      if (!s.held.has(seq)) seqs.push(seq);
    if (seqs.length === 0) return;
    this.counters.fetched += seqs.length;
    this.#o.fetch(stream, s.epoch, seqs);
  }

  #request(stream: string, s: Stream<E>, upTo: number, now: number): void {
    const from = Math.max(s.requested + 1, s.cursor + 1, upTo - this.#o.maxFetch + 1);
    if (upTo < from) return;
    const seqs: number[] = [];
    for (let seq = from; seq <= upTo; seq++) if (!s.held.has(seq)) seqs.push(seq);
    s.requested = upTo;
    if (seqs.length === 0) return;
    s.fetchedAt = now;
    this.counters.fetched += seqs.length;
    this.#o.fetch(stream, s.epoch, seqs);
  }
}
