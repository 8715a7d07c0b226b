import type { NodeId } from '@netmachine/core';

/** The Transport engine's queues, as the gate reads them (structural: `TransportEngine` fits). */
export interface ForwardQueues {
  /** Messages waiting in every per-node queue together. */
  readonly queued: number;
  /** Messages waiting in the queue to `node`. */
  queuedTo(node: NodeId): number;
}

export interface ForwardGateOptions {
  readonly queues: ForwardQueues;
  /** The nodes a tree forwards to (the domain's active view). */
  readonly neighbours: () => readonly NodeId[];
  /** A neighbour's queue at or above this many messages holds the tree engine… */
  readonly high: number;
  /** …until it is at or below this many. */
  readonly low: number;
  /** A neighbour above `high` for this long no longer holds anyone: it is slow, and loses to its queue limit. */
  readonly slowAfterMs: number;
  /** How often a held engine looks again. */
  readonly pollMs: number;
}

export interface ForwardGateCounters {
  /** Times the tree engine waited for a neighbour's queue to drain. */
  holds: number;
  /** Times a neighbour stayed backed up past `slowAfterMs` and was passed over. */
  slowNeighbours: number;
}

/**
 * Hop-to-hop flow control for a broadcast tree. Before the tree engine takes its next message it asks
 * the gate; while the queue to any neighbour is at `high` or more, the gate holds it until every such
 * queue is down to `low`. Held, the engine's mailbox fills, and its connections stop reading (policy
 * `wait`), so the node that feeds it is slowed in turn, back to the publisher: a fast publisher cannot
 * overrun a slow forwarder, and nothing is dropped on the way. One neighbour that stays backed up for
 * `slowAfterMs` stops holding the others (a dead link must not stall the tree until it is noticed): its
 * queue then overflows, counted by the transport, and its subtree fetches the missing batches.
 */
export class ForwardGate {
  readonly counters: ForwardGateCounters = { holds: 0, slowNeighbours: 0 };
  readonly #o: ForwardGateOptions;
  /** Neighbours seen at or above `high`, and since when. */
  readonly #backedUp = new Map<NodeId, number>();
  /** Backed-up neighbours passed over as slow (counted once each time). */
  readonly #slow = new Set<NodeId>();
  #waiting: Promise<void> | undefined;

  constructor(options: ForwardGateOptions) {
    this.#o = options;
  }

  /** Undefined to go on at once; else a promise that resolves when the neighbours have room. */
  hold(): Promise<void> | undefined {
    if (this.#waiting !== undefined) return this.#waiting;
    // Cheap first look: no neighbour's queue can be over `high` when all of them together are not.
    if (this.#o.queues.queued < this.#o.high) {
      if (this.#backedUp.size > 0) {
        this.#backedUp.clear();
        this.#slow.clear();
      }
      return undefined;
    }
    if (!this.#blocked(this.#o.high)) return undefined;
    this.counters.holds++;
    this.#waiting = new Promise<void>((resolve) => {
      // Polling: the transport offers no "below the mark" notification. The timers do not keep a
      // stopping process alive.
      const look = (): void => {
        if (this.#blocked(this.#o.low + 1)) {
          setTimeout(look, this.#o.pollMs).unref();
          return;
        }
        this.#waiting = undefined;
        resolve();
      };
      setTimeout(look, this.#o.pollMs).unref();
    });
    return this.#waiting;
  }

  /** Whether some neighbour that is not (yet) deemed slow has `mark` or more messages queued. */
  // Called with `high` to start holding and `low + 1` to go on holding.
  #blocked(mark: number): boolean {
    const now = Date.now();
    let blocked = false;
    for (const node of this.#o.neighbours()) {
      const queued = this.#o.queues.queuedTo(node);
      if (queued < mark) {
        if (queued <= this.#o.low) {
          this.#backedUp.delete(node);
          this.#slow.delete(node);
        }
        continue;
      }
      const since = this.#backedUp.get(node);
      if (since === undefined) {
        this.#backedUp.set(node, now);
        blocked = true;
      } else if (now - since < this.#o.slowAfterMs) {
        blocked = true;
      } else if (!this.#slow.has(node)) {
        this.#slow.add(node);
        this.counters.slowNeighbours++;
      }
    }
    return blocked;
  }
}
