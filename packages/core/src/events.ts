/**
 * The one event shape of every component: a plain object whose `type` is `'<subject>:<what>'`
 * (e.g. `peer:connected`, `message:dropped`), and one small synchronous typed emitter.
 */
export interface TypedEvent {
  readonly type: string;
}

export type EventOf<E extends TypedEvent, T extends E['type']> = Extract<E, { type: T }>;
export type EventListener<E> = (event: E) => void;

/** How many events an `events()` reader may fall behind before the oldest are discarded. */
export const DEFAULT_EVENT_BUFFER = 1024;

/** What readers of a component's events see: the emitter without `emit`. */
export interface EventSource<E extends TypedEvent> {
  /** Calls `listener` for every event of `type` (or every event, for `'*'`); returns an unsubscribe function. */
  on<T extends E['type']>(type: T, listener: EventListener<EventOf<E, T>>): () => void;
  on(type: '*', listener: EventListener<E>): () => void;
  off<T extends E['type']>(type: T | '*', listener: EventListener<EventOf<E, T>>): void;
  /** Resolves with the first event of `type` that satisfies `match`; rejects when `signal` aborts. */
  once<T extends E['type']>(
    type: T,
    match?: (event: EventOf<E, T>) => boolean,
    signal?: AbortSignal,
  ): Promise<EventOf<E, T>>;
  /**
   * Every event from now on, as an async iterable (in the manner of nats.js `status()`). A slow reader
   * loses the oldest events beyond `buffer` rather than growing memory; `lost` counts them.
   */
  events(options?: { signal?: AbortSignal; buffer?: number }): AsyncIterable<E> & { readonly lost: number };
}

/**
 * A synchronous typed emitter. A throwing listener is ignored: an observer's bug must not break the
 * component that emits. `active` lets a hot path skip building events nobody reads.
 */
export class Emitter<E extends TypedEvent> implements EventSource<E> {
  #listeners = new Map<string, EventListener<E>[]>();
  #count = 0;

  get active(): boolean {
    return this.#count > 0;
  }

  on<T extends E['type']>(type: T, listener: EventListener<EventOf<E, T>>): () => void;
  on(type: '*', listener: EventListener<E>): () => void;
  // biome-ignore lint/suspicious/noExplicitAny: the overloads above give callers their types
  on(type: string, listener: EventListener<any>): () => void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
    this.#count++;
    return () => this.off(type as E['type'], listener);
  }

  off<T extends E['type']>(type: T | '*', listener: EventListener<EventOf<E, T>>): void {
    const listeners = this.#listeners.get(type) ?? [];
    const kept = listeners.filter((l) => l !== (listener as EventListener<E>));
    if (kept.length === listeners.length) return;
    this.#count -= listeners.length - kept.length;
    if (kept.length === 0) this.#listeners.delete(type);
    else this.#listeners.set(type, kept);
  }

  once<T extends E['type']>(
    type: T,
    match: (event: EventOf<E, T>) => boolean = () => true,
    signal?: AbortSignal,
  ): Promise<EventOf<E, T>> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        off();
        reject(signal?.reason);
      };
      const off = this.on(type, (event: EventOf<E, T>) => {
        if (!match(event)) return;
        off();
        signal?.removeEventListener('abort', onAbort);
        resolve(event);
      });
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  emit(event: E): void {
    if (this.#count === 0) return;
    this.#dispatch(this.#listeners.get(event.type), event);
    this.#dispatch(this.#listeners.get('*'), event);
  }

  #dispatch(listeners: EventListener<E>[] | undefined, event: E): void {
    if (listeners === undefined) return;
    for (const listener of listeners) {
      try {
        listener(event);
      } catch {
        // Ignored on purpose (see class comment).
      }
    }
  }

  events(
    options: { signal?: AbortSignal; buffer?: number } = {},
  ): AsyncIterable<E> & { readonly lost: number } {
    const { signal } = options;
    const capacity = options.buffer ?? DEFAULT_EVENT_BUFFER;
    const buffer: E[] = [];
    let wake: (() => void) | undefined;
    let lost = 0;
    let done = signal?.aborted ?? false;
    const off = this.on('*', (event) => {
      if (buffer.length >= capacity) {
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
    async function* iterate(): AsyncGenerator<E> {
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
