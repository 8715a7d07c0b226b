import type { EngineMessage, NodeId } from '@netmachine/core';
import type { TransportDropReason } from './counters.js';

/** What the Transport engine reports, for logs, metrics and tests. */
export type TransportEvent =
  | {
      readonly type: 'NodeConnected';
      readonly node: NodeId;
      readonly direction: 'inbound' | 'outbound';
      readonly protocol: string;
      readonly remoteAddress: string;
    }
  | {
      readonly type: 'NodeConnectFailed';
      readonly node: NodeId;
      readonly error: Error;
      readonly attempt: number;
    }
  | { readonly type: 'NodeDisconnected'; readonly node: NodeId; readonly error?: Error | undefined }
  | {
      readonly type: 'Dropped';
      readonly reason: TransportDropReason;
      readonly node?: NodeId | undefined;
      readonly message?: EngineMessage | undefined;
      readonly error: Error;
    }
  | { readonly type: 'QueueFull'; readonly node: NodeId; readonly capacity: number };

export type TransportEventType = TransportEvent['type'];
export type TransportEventOf<T extends TransportEventType> = Extract<TransportEvent, { type: T }>;

type AnyListener = (event: TransportEvent) => void;

/** How many events a `status()` reader may fall behind before the oldest are discarded. */
const STATUS_BUFFER = 1024;

/**
 * A small synchronous typed emitter. A throwing listener is ignored: an observer's bug must not
 * break message delivery.
 */
export class TransportEvents {
  #listeners = new Map<TransportEventType | '*', AnyListener[]>();

  on<T extends TransportEventType>(type: T, listener: (event: TransportEventOf<T>) => void): () => void;
  on(type: '*', listener: AnyListener): () => void;
  on(type: TransportEventType | '*', listener: AnyListener): () => void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
    return () => {
      this.#listeners.set(
        type,
        (this.#listeners.get(type) ?? []).filter((l) => l !== listener),
      );
    };
  }

  /** Resolves with the first event of `type` that satisfies `match`. */
  once<T extends TransportEventType>(
    type: T,
    match: (event: TransportEventOf<T>) => boolean = () => true,
    signal?: AbortSignal,
  ): Promise<TransportEventOf<T>> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        off();
        reject(signal?.reason);
      };
      const off = this.on(type, (event) => {
        if (!match(event)) return;
        off();
        signal?.removeEventListener('abort', onAbort);
        resolve(event);
      });
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  emit(event: TransportEvent): void {
    for (const key of [event.type, '*'] as const) {
      const listeners = this.#listeners.get(key);
      if (listeners === undefined) continue;
      for (const listener of listeners) {
        try {
          listener(event);
        } catch {
          // Ignored on purpose (see class comment).
        }
      }
    }
  }

  /**
   * Every event from now on, as an async iterable. A slow reader loses the oldest events beyond
   * a bounded buffer rather than growing memory; `lost` on the iterator counts them.
   */
  stream(signal?: AbortSignal): AsyncIterable<TransportEvent> & { readonly lost: number } {
    const buffer: TransportEvent[] = [];
    let wake: (() => void) | undefined;
    let lost = 0;
    let done = signal?.aborted ?? false;
    const off = this.on('*', (event) => {
      if (buffer.length >= STATUS_BUFFER) {
        buffer.shift();
        lost++;
      }
      buffer.push(event);
      wake?.();
    });
    const finish = (): void => {
      done = true;
      off();
      wake?.();
    };
    signal?.addEventListener('abort', finish, { once: true });
    async function* iterate(): AsyncGenerator<TransportEvent> {
      try {
        while (true) {
          const next = buffer.shift();
          if (next !== undefined) {
            yield next;
            continue;
          }
          if (done) return;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
      } finally {
        finish();
        signal?.removeEventListener('abort', finish);
      }
    }
    return {
      [Symbol.asyncIterator]: iterate,
      get lost() {
        return lost;
      },
    };
  }
}
