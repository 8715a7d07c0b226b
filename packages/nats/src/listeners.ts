import type { Msg } from '@nats-io/transport-node';

/** A synchronous listener list; a listener that throws is ignored so an observer cannot break delivery. */
export class Listeners<E> {
  private listeners: ((event: E) => void)[] = [];

  get active(): boolean {
    return this.listeners.length > 0;
  }

  on(listener: (event: E) => void): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  emit(event: E): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // An observer's bug must not affect delivery.
      }
    }
  }
}

/**
 * Wraps a NATS subscription callback. The client calls it from its socket reader, where a thrown
 * error would take the connection down with it; here it is logged and the message is lost alone.
 */
export function guardedCallback(
  handle: (msg: Msg) => void,
  onError: (error: unknown) => void,
): (error: Error | null, msg: Msg) => void {
  return (error, msg) => {
    if (error) return;
    try {
      handle(msg);
    } catch (failure) {
      onError(failure);
    }
  };
}
