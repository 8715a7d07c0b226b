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
      readonly type: 'node:changed';
      readonly id: NodeId;
      readonly cause: NodeChangeCause;
      readonly record: NodeRecord;
    }
  | { readonly type: 'engine:advert'; readonly advert: EngineAdvert }
  | { readonly type: 'topic:advert'; readonly id: TopicId; readonly advert: TopicAdvert }
  | { readonly type: 'domain:advert'; readonly id: DomainId; readonly advert: DomainAdvert }
  /** Emitted by `changes()` when its buffer overflowed: `dropped` changes were lost; re-read the store. */
  | { readonly type: 'changes:overflow'; readonly dropped: number };

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
 * others still run and the store is unaffected. `close()` tells the `changes()` readers that no more
 * changes will come.
 */
export class ChangeFanout {
  readonly #listeners = new Set<ChangeListener>();
  readonly #closeHooks = new Set<() => void>();
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

  onClose(hook: () => void): () => void {
    this.#closeHooks.add(hook);
    return () => {
      this.#closeHooks.delete(hook);
    };
  }

  emit(change: IdentityChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (error) {
        this.#onListenerError();
        this.#logger.error({ err: error, change: change.type }, 'identity-store change listener threw');
      }
    }
  }

  close(): void {
    for (const hook of [...this.#closeHooks]) hook();
  }

  get size(): number {
    return this.#listeners.size;
  }
}

/**
 * An async iterator over changes with a bounded buffer. Policy when full: drop the oldest change,
 * count it (`onDrop`), and yield one `changes:overflow` change before the next buffered one, so the reader
 * knows its view is incomplete and can re-read the store. Aborting `signal` ends it at once; the
 * store stopping ends it after the buffered changes are read.
 */
export function bufferedChanges(
  fanout: ChangeFanout,
  options: ChangesOptions,
  onDrop: () => void,
): AsyncIterableIterator<IdentityChange> {
  const capacity = Math.max(1, options.bufferSize ?? DEFAULT_CHANGE_BUFFER);
  const buffer: IdentityChange[] = [];
  let head = 0;
  let dropped = 0;
  /** No more changes will arrive; `done` once the buffer is read too (or at once on abort). */
  let ended = false;
  let done = false;
  let waiters: (() => void)[] = [];
  const wakeAll = (): void => {
    const woken = waiters;
    waiters = [];
    for (const wake of woken) wake();
  };

  const unsubscribe = fanout.add((change) => {
    if (buffer.length - head >= capacity) {
      head++;
      dropped++;
      onDrop();
    }
    buffer.push(change);
    wakeAll();
  });
  const end = (): void => {
    if (ended) return;
    ended = true;
    unsubscribe();
    removeCloseHook();
    options.signal?.removeEventListener('abort', abort);
    wakeAll();
  };
  const abort = (): void => {
    done = true;
    end();
  };
  const removeCloseHook = fanout.onClose(end);
  if (options.signal?.aborted) abort();
  else options.signal?.addEventListener('abort', abort, { once: true });

  const take = (): IdentityChange | undefined => {
    if (dropped > 0) {
      const overflow: IdentityChange = { type: 'changes:overflow', dropped };
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
        if (ended) {
          done = true;
          continue;
        }
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
    async return(): Promise<IteratorResult<IdentityChange>> {
      abort();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
