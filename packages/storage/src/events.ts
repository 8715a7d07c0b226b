/** Events a block store and the storage engine report, for logs, metrics and tests. */
export type StorageEvent =
  /** A chunk read from disk no longer matched its id; it was removed and never returned. */
  | { type: 'corrupt-chunk'; chunk: string; source: 'disk' }
  /** A peer sent bytes that do not hash to the chunk id asked for; the chunk is fetched elsewhere. */
  | { type: 'corrupt-chunk'; chunk: string; source: 'peer'; peer: string }
  /** Garbage collection removed expired chunks. */
  | { type: 'collected'; chunks: number; bytes: number }
  /** A write refused because it would pass the quota. */
  | { type: 'quota-exceeded'; needed: number; used: number; quota: number };

export type StorageEventListener = (event: StorageEvent) => void;

/** A synchronous listener list; a throwing listener cannot break storage. */
export class StorageEvents {
  #listeners: StorageEventListener[] = [];

  on(listener: StorageEventListener): () => void {
    this.#listeners = [...this.#listeners, listener];
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  emit(event: StorageEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // An observer's bug must not affect storage.
      }
    }
  }
}
