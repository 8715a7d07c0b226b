import type { Logger, NodeId } from '@netmachine/core';
import type { PeerEntry } from '../machines/messages.js';

/** PSI exchanges this node runs at once for TAC, and waiting. */
const PSI_CONCURRENCY = 2;
const PSI_QUEUE = 16;

export interface ClusteringPsiOptions {
  /** Runs PSI with `peer`: the domains both are in. */
  readonly intersect: (peer: NodeId) => Promise<string[]>;
  /**
   * Called as a run starts: where its result goes (the machines running then), or what drops it when
   * they are gone by the time it ends.
   */
  readonly resultSink: () => (entry: PeerEntry, shared: readonly string[]) => void;
  readonly logger: Logger;
}

/**
 * The PSI runs TAC asks for (`psiWanted`): a few at once, a bounded queue behind them; a wish that
 * finds the queue full is dropped and counted. A run that fails counts as no shared domain.
 */
export class ClusteringPsi {
  readonly #o: ClusteringPsiOptions;
  readonly #queue: PeerEntry[] = [];
  #running = 0;
  #dropped = 0;

  constructor(options: ClusteringPsiOptions) {
    this.#o = options;
  }

  /** Runs dropped because the queue was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Runs PSI with the entry's peer when there is room, queues it otherwise. */
  want(entry: PeerEntry): void {
    if (this.#running >= PSI_CONCURRENCY) {
      if (this.#queue.length >= PSI_QUEUE) {
        this.#dropped++;
        return;
      }
      this.#queue.push(entry);
      return;
    }
    this.#running++;
    const sink = this.#o.resultSink();
    this.#o
      .intersect(entry.peer as NodeId)
      .then(
        (shared) => shared,
        (error) => {
          this.#o.logger.debug({ err: error, peer: entry.peer }, 'PSI for clustering failed');
          return [] as string[];
        },
      )
      .then((shared) => {
        this.#running--;
        sink(entry, shared);
        const next = this.#queue.shift();
        if (next !== undefined) this.want(next);
      });
  }
}
