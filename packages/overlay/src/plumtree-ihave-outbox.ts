import { type IHaveEntry, PLUMTREE_LIMITS } from './plumtree-messages.js';
import type { PlumTreeCounters, PlumTreeOutput } from './plumtree-types.js';
import type { Millis, PeerId } from './protocol.js';

// Lazy announcements (IHave) are batched per peer: one timer, armed by the first queued entry, flushes
// every batch; a batch that reaches a message's worth of ids goes out at once. So the outbox never holds
// more than one batch per lazy peer.

export class IHaveOutbox {
  readonly #interval: Millis;
  /** The machine's counters: `ihaveSent` and `ihaveEntriesSent` are counted here. */
  readonly #counters: PlumTreeCounters;
  /** Announcements per lazy peer, waiting for the flush timer; a full batch is sent at once. */
  readonly #batches = new Map<PeerId, IHaveEntry[]>();
  #size = 0;
  #flushArmed = false;

  constructor(interval: Millis, counters: PlumTreeCounters) {
    this.#interval = interval;
    this.#counters = counters;
  }

  /** Announcements queued, over all peers. */
  get size(): number {
    return this.#size;
  }

  /** Queues an announcement; a peer's full batch goes out at once, so the outbox never outgrows a batch per lazy peer. */
  announce(peer: PeerId, entry: IHaveEntry, out: PlumTreeOutput): void {
    let batch = this.#batches.get(peer);
    if (batch === undefined) {
      batch = [];
      this.#batches.set(peer, batch);
    }
    batch.push(entry);
    this.#size++;
    if (batch.length >= PLUMTREE_LIMITS.maxIdsPerMessage) {
      this.#send(peer, batch, out);
      this.#batches.delete(peer);
      return;
    }
    if (!this.#flushArmed) {
      this.#flushArmed = true;
      out.setTimer({ type: 'ihaveFlush' }, this.#interval);
    }
  }

  /** The flush timer fired: every queued batch goes out. */
  flush(out: PlumTreeOutput): void {
    this.#flushArmed = false;
    for (const [peer, batch] of this.#batches) this.#send(peer, batch, out);
    this.#batches.clear();
  }

  /** Forgets what was queued for a departed peer. */
  drop(peer: PeerId): void {
    const queued = this.#batches.get(peer);
    if (queued !== undefined) {
      this.#size -= queued.length;
      this.#batches.delete(peer);
    }
  }

  #send(peer: PeerId, entries: IHaveEntry[], out: PlumTreeOutput): void {
    this.#size -= entries.length;
    this.#counters.ihaveSent++;
    this.#counters.ihaveEntriesSent += entries.length;
    out.send(peer, { type: 'ihave', entries });
  }
}
