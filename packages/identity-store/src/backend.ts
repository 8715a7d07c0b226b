import type { Store } from '@netmachine/core';

/**
 * Where the identity store keeps its records: core's durable key-value `Store` of byte values.
 * `put` and `delete` resolve only once the change is durable. The identity store owns the encoding,
 * so a backend never interprets the bytes.
 */
export type IdentityBackend = Store<Uint8Array>;

/**
 * A backend in memory, for tests and for nodes that need no persistence. `close()` keeps the data,
 * so a store can be closed and opened again over the same instance (the way a directory outlives
 * a process), which lets one compliance suite run against both backends.
 */
export class MemoryBackend implements IdentityBackend {
  readonly #entries = new Map<string, Uint8Array>();

  async get(key: string): Promise<Uint8Array | undefined> {
    const value = this.#entries.get(key);
    return value === undefined ? undefined : new Uint8Array(value);
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    // A copy: the caller may reuse its buffer, and the stored bytes must not change behind our back.
    this.#entries.set(key, new Uint8Array(value));
  }

  async delete(key: string): Promise<boolean> {
    return this.#entries.delete(key);
  }

  async *entries(prefix = ''): AsyncIterable<[string, Uint8Array]> {
    const keys = [...this.#entries.keys()].filter((k) => k.startsWith(prefix)).sort();
    for (const key of keys) {
      const value = this.#entries.get(key);
      if (value !== undefined) yield [key, new Uint8Array(value)];
    }
  }

  /** Number of stored entries. */
  get size(): number {
    return this.#entries.size;
  }

  async close(): Promise<void> {}
}
