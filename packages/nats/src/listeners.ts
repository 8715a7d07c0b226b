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
