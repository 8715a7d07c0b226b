import type { Logger, NodeId } from '@netmachine/core';

export interface MeasurementFlusherOptions {
  intervalMs: number;
  /** Writes one node's local state durably. */
  write(id: NodeId): Promise<void>;
  logger: Logger;
}

/**
 * Batches measurement writes. RTT samples arrive with every ping; writing each would put a disk
 * flush on the network path. Instead nodes are marked dirty and written together on a timer and at
 * stop. The dirty set holds at most one entry per known node, so it is bounded by the node limit.
 */
export class MeasurementFlusher {
  readonly #dirty = new Set<NodeId>();
  readonly #options: MeasurementFlusherOptions;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #stopped = false;

  constructor(options: MeasurementFlusherOptions) {
    this.#options = options;
  }

  markDirty(id: NodeId): void {
    this.#dirty.add(id);
    if (this.#timer === undefined && !this.#stopped) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        void this.flush();
      }, this.#options.intervalMs);
      // A pending measurement write must not keep the process alive.
      this.#timer.unref();
    }
  }

  /** The node's state is being written anyway (a trust change, say): nothing left to flush for it. */
  clean(id: NodeId): void {
    this.#dirty.delete(id);
  }

  get pending(): number {
    return this.#dirty.size;
  }

  /** Writes every dirty node now; failures are logged and the node stays dirty for the next round. */
  flush(): Promise<void> {
    this.#flushing ??= (async () => {
      try {
        while (this.#dirty.size > 0) {
          const ids = [...this.#dirty];
          const results = await Promise.allSettled(ids.map((id) => this.#options.write(id)));
          const failed = results.filter((r) => r.status === 'rejected').length;
          if (failed > 0) {
            this.#options.logger.warn({ failed }, 'identity-store could not write some measurements');
            break;
          }
        }
      } finally {
        this.#flushing = undefined;
      }
    })();
    return this.#flushing;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#flushing;
    await this.flush();
  }
}
