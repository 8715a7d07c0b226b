import { type KeyPair, leaseBytes } from '@netmachine/core';
import { MIN_POOLED_FRAME_BYTES, sharedFramePool } from '@netmachine/transport/wire';
import { encodedEventBytes, MAX_BATCH_EVENTS, signTreeBatch, type UnsignedEvent } from './tree-batch.js';

/**
 * Bytes of events past which a batch is signed and a new one started (a larger event goes alone):
 * a batch is one PlumTree message, and every node caches up to 1024 of them and 64 MiB to answer gap
 * fetches (256 full batches). 1024 events of 200 B fit: every node verifies one signature
 * and handles one tree message per batch, so the larger the batch the less each event costs.
 */
export const MAX_BATCH_BYTES = 256 * 1024;
/** Events under one signature unless the caller says otherwise. */
export const DEFAULT_MAX_BATCH = 1024;
/** How long a busy stream's batch may stay open for more events unless the caller says otherwise. */
export const DEFAULT_LINGER_MS = 8;

/** A signed batch as the signer hands it out. */
export interface SignedBatch {
  readonly topic: Uint8Array;
  readonly epoch: number;
  readonly batch: number;
  readonly firstSeq: number;
  readonly count: number;
  readonly bytes: Buffer;
}

export interface BatchSignerOptions {
  readonly key: KeyPair;
  /** Most events under one signature (default `DEFAULT_MAX_BATCH`, 1024). Reaching it signs at once. */
  readonly maxBatch?: number;
  /** Most bytes of events under one signature (default `MAX_BATCH_BYTES`; a larger event goes alone). */
  readonly maxBatchBytes?: number;
  /** Receives each signed batch, in order. */
  readonly emit: (batch: SignedBatch) => void;
  /** Runs the flush after the current turn (default setImmediate; the simulator or a test may pass its own). */
  readonly schedule?: (flush: () => void) => void;
  /**
   * Runs `look` after `ms` (default an unref'd setTimeout): how a busy stream's batch that a turn did
   * not add to waits out the rest of its linger without a look every turn.
   */
  readonly delay?: (ms: number, look: () => void) => void;
  /**
   * A stream that had events in the turn before is busy: its batch stays open, across turns that add
   * nothing too, until it is full or this long after its first event (default `DEFAULT_LINGER_MS`;
   * 0 signs every batch at the end of its turn). A quiet stream's first batch is signed at the end of
   * its turn.
   */
  readonly lingerMs?: number;
  /** The clock, in ms (default `performance.now`). */
  readonly now?: () => number;
}

/** One publisher stream: a topic in one session (epoch). The signer keys its state by this object. */
export interface BatchStream {
  readonly topic: Uint8Array;
  readonly epoch: number;
}

interface Pending {
  readonly topic: Uint8Array;
  readonly epoch: number;
  /** When its first event was added, and whether events were added since the last look. */
  readonly startedAt: number;
  fresh: boolean;
  firstSeq: number;
  batch: number;
  events: UnsignedEvent[];
  bytes: number;
}

/**
 * Adaptive batching, one stream (topic and epoch) per batch: events added in one event-loop turn are
 * signed together after it, up to `maxBatch` events or `MAX_BATCH_BYTES` (then at once). At a low rate
 * each event is its own batch (no added latency beyond the turn); a stream that publishes in
 * consecutive turns is busy, and its batch stays open until it fills or is `lingerMs` old, so one
 * signature covers up to `maxBatch` events. Each stream holds at most one batch pending.
 */
export class BatchSigner {
  readonly #o: BatchSignerOptions;
  readonly #max: number;
  readonly #maxBytes: number;
  /** Pending batches by stream, in the order they were started. */
  readonly #pending = new Map<BatchStream, Pending>();
  /** The next batch number of each stream (a stream the caller drops is forgotten here too). */
  readonly #nextBatch = new WeakMap<BatchStream, number>();
  /** Streams busy at the last look: a batch pending, or one filled since the look before. */
  #active = new Set<BatchStream>();
  /** Streams whose batch filled (and was signed) since the last look: busy, though none is pending. */
  #filled = new Set<BatchStream>();
  readonly #linger: number;
  readonly #now: () => number;
  #scheduled = false;
  /** A look is due after a delay (for the oldest batch held open: any later one's linger ends later). */
  #delayed = false;
  batches = 0;
  events = 0;

  constructor(options: BatchSignerOptions) {
    this.#o = options;
    this.#max = Math.min(Math.max(1, options.maxBatch ?? DEFAULT_MAX_BATCH), MAX_BATCH_EVENTS);
    this.#maxBytes = Math.max(1, options.maxBatchBytes ?? MAX_BATCH_BYTES);
    this.#linger = Math.max(0, options.lingerMs ?? DEFAULT_LINGER_MS);
    this.#now = options.now ?? (() => performance.now());
  }

  /** Adds the event numbered `seq` (consecutive per stream) of `stream` (one object per stream). */
  add(stream: BatchStream, seq: number, event: UnsignedEvent): void {
    const size = encodedEventBytes(event.payload.length);
    let pending = this.#pending.get(stream);
    if (pending !== undefined && pending.bytes > 0 && pending.bytes + size > this.#maxBytes) {
      this.#sign(stream, pending);
      pending = undefined;
    }
    if (pending === undefined) {
      const batch = this.#nextBatch.get(stream) ?? 1;
      this.#nextBatch.set(stream, batch + 1);
      pending = {
        topic: stream.topic,
        epoch: stream.epoch,
        startedAt: this.#linger > 0 ? this.#now() : 0,
        fresh: true,
        firstSeq: seq,
        batch,
        events: [],
        bytes: 0,
      };
      this.#pending.set(stream, pending);
    }
    pending.events.push(event);
    pending.bytes += size;
    pending.fresh = true;
    if (pending.events.length >= this.#max) {
      this.#sign(stream, pending);
      // Still busy: a batch it starts in the next turn must not be taken for a quiet stream's.
      this.#filled.add(stream);
    }
    this.#schedule();
  }

  /** Signs and emits what is pending now. */
  flush(): void {
    for (const [stream, pending] of this.#pending) this.#sign(stream, pending);
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    (this.#o.schedule ?? setImmediate)(() => {
      this.#scheduled = false;
      this.#look();
    });
  }

  #delay(ms: number): void {
    this.#delayed = true;
    const look = () => {
      this.#delayed = false;
      this.#look();
    };
    if (this.#o.delay !== undefined) this.#o.delay(ms, look);
    else setTimeout(look, ms).unref();
  }

  /**
   * The look after a turn. A stream's batch is signed unless the stream is busy — it had a batch
   * pending at the previous look too, or filled one since the look before (so it published in
   * consecutive turns) — and the batch is younger than the linger: then it stays open. While turns
   * add to some busy batch (or start one) each next turn is looked at too; once a turn adds to none,
   * the next look comes when the oldest open batch reaches its linger, or after the next turn that
   * adds an event, whichever is first.
   * Under a steady flood a sender turn adds a few hundred events and other turns (I/O) come between
   * them, and every batch costs each node of the tree one signature check and one tree message: a
   * batch held open across those turns costs them that once.
   */
  #look(): void {
    const active = this.#filled;
    this.#filled = new Set<BatchStream>();
    const now = this.#linger > 0 && this.#pending.size > 0 ? this.#now() : 0;
    let fresh = false;
    let wait = Number.POSITIVE_INFINITY;
    for (const [stream, pending] of this.#pending) {
      active.add(stream);
      const age = now - pending.startedAt;
      if (this.#active.has(stream) && age < this.#linger) {
        fresh ||= pending.fresh;
        pending.fresh = false;
        wait = Math.min(wait, this.#linger - age);
        continue;
      }
      this.#sign(stream, pending);
    }
    this.#active = active;
    if (active.size === 0 || this.#linger === 0) return;
    if (fresh || wait === Number.POSITIVE_INFINITY) this.#schedule();
    else if (!this.#delayed) this.#delay(Math.ceil(wait));
  }

  get pending(): number {
    let n = 0;
    for (const p of this.#pending.values()) n += p.events.length;
    return n;
  }

  #sign(stream: BatchStream, pending: Pending): void {
    this.#pending.delete(stream);
    this.batches++;
    this.events += pending.events.length;
    // Batches are written into pooled buffers, each leased out while the tree needs it (cached, queued
    // to a neighbour, or the last batch of a session) and handed back after: a busy publisher reuses a
    // few hundred buffers instead of allocating one per batch, which would drive full collections.
    let pooled: Buffer | undefined;
    const bytes = signTreeBatch(this.#o.key, { ...pending, events: pending.events }, (size) => {
      if (size < MIN_POOLED_FRAME_BYTES) return Buffer.allocUnsafe(size);
      pooled = sharedFramePool.take(size);
      return pooled.subarray(0, size);
    });
    const taken = pooled as Buffer | undefined;
    const done = taken === undefined ? undefined : leaseBytes(bytes, () => sharedFramePool.give(taken));
    this.#o.emit({
      topic: pending.topic,
      epoch: pending.epoch,
      batch: pending.batch,
      firstSeq: pending.firstSeq,
      count: pending.events.length,
      bytes,
    });
    done?.();
  }
}
