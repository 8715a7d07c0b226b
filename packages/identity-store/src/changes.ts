import type {
  DomainAdvert,
  DomainId,
  EngineAdvert,
  Logger,
  NodeId,
  TopicAdvert,
  TopicId,
} from '@netmachine/core';
import type { NodeRecord } from './records.js';

/** Why a node record changed. RTT samples do not notify: they arrive far too often to be events. */
export type NodeChangeCause = 'advert' | 'trust' | 'reputation' | 'transport-prefs';

/** One change to the store, delivered after it is durable (adverts) or applied (local state). */
export type IdentityChange =
  | {
      readonly kind: 'node';
      readonly id: NodeId;
      readonly cause: NodeChangeCause;
      readonly record: NodeRecord;
    }
  | { readonly kind: 'engine'; readonly advert: EngineAdvert }
  | { readonly kind: 'topic'; readonly id: TopicId; readonly advert: TopicAdvert }
  | { readonly kind: 'domain'; readonly id: DomainId; readonly advert: DomainAdvert }
  /** Emitted by `changes()` when its buffer overflowed: `dropped` changes were lost; re-read the store. */
  | { readonly kind: 'overflow'; readonly dropped: number };

export type ChangeListener = (change: IdentityChange) => void;

export interface ChangesOptions {
  /** Changes buffered for a slow reader (default 1024). When full the oldest is dropped. */
  bufferSize?: number;
  /** Ends the iteration. */
  signal?: AbortSignal;
}

export const DEFAULT_CHANGE_BUFFER = 1024;

/**
 * Fans changes out to synchronous listeners. A listener that throws is logged and counted; the
 * others still run and the store is unaffected.
 */
export class ChangeFanout {
  readonly #listeners = new Set<ChangeListener>();
  readonly #logger: Logger;
  readonly #onListenerError: () => void;

  constructor(logger: Logger, onListenerError: () => void) {
    this.#logger = logger;
    this.#onListenerError = onListenerError;
  }

  add(listener: ChangeListener): () => void {
    // Wrap, so adding the same function twice gives two independent subscriptions.
    const entry: ChangeListener = (change) => listener(change);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  emit(change: IdentityChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (error) {
        this.#onListenerError();
        this.#logger.error({ err: error, change: change.kind }, 'identity-store change listener threw');
      }
    }
  }

  get size(): number {
    return this.#listeners.size;
  }
}

/**
 * An async iterator over changes with a bounded buffer. Policy when full: drop the oldest change,
 * count it (`onDrop`), and yield one `overflow` change before the next buffered one, so the reader
 * knows its view is incomplete and can re-read the store.
 */
export function bufferedChanges(
  subscribe: (listener: ChangeListener) => () => void,
  options: ChangesOptions,
  onDrop: () => void,
): AsyncIterableIterator<IdentityChange> {
  const capacity = Math.max(1, options.bufferSize ?? DEFAULT_CHANGE_BUFFER);
  const buffer: IdentityChange[] = [];
  let head = 0;
  let dropped = 0;
  let done = false;
  let wake: (() => void) | undefined;

  const unsubscribe = subscribe((change) => {
    if (buffer.length - head >= capacity) {
      head++;
      dropped++;
      onDrop();
    }
    buffer.push(change);
    wake?.();
  });
  const finish = (): void => {
    if (done) return;
    done = true;
    unsubscribe();
    options.signal?.removeEventListener('abort', finish);
    wake?.();
  };
  if (options.signal?.aborted) finish();
  else options.signal?.addEventListener('abort', finish, { once: true });

  const take = (): IdentityChange | undefined => {
    if (dropped > 0) {
      const overflow: IdentityChange = { kind: 'overflow', dropped };
      dropped = 0;
      return overflow;
    }
    if (head >= buffer.length) return undefined;
    const change = buffer[head++];
    if (head > 64 && head * 2 > buffer.length) {
      buffer.splice(0, head);
      head = 0;
    }
    return change;
  };

  const iterator: AsyncIterableIterator<IdentityChange> = {
    async next(): Promise<IteratorResult<IdentityChange>> {
      for (;;) {
        if (done) return { done: true, value: undefined };
        const change = take();
        if (change !== undefined) return { done: false, value: change };
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    },
    async return(): Promise<IteratorResult<IdentityChange>> {
      finish();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
