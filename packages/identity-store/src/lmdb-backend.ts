import { AbortedError } from '@netmachine/core';
import type { RootDatabase } from 'lmdb';
import type { IdentityBackend } from './backend.js';

export interface LmdbBackendOptions {
  /** Directory of the LMDB environment (created if missing). */
  path: string;
  signal?: AbortSignal;
}

/**
 * The durable backend: an LMDB environment with raw byte values (`encoding: 'binary'`), so the
 * identity store's own msgpack bytes are stored untouched.
 *
 * Durability: lmdb-js batches writes into transactions on a worker thread. With `overlappingSync`
 * (its default on Linux and macOS) a write's promise can resolve when the transaction is committed
 * but before it is flushed; we therefore also await `db.flushed`, so `put` resolves only when the data
 * has reached the disk. LMDB's copy-on-write B-tree never overwrites live pages, so a process killed
 * at any moment leaves the last committed transaction intact.
 */
export class LmdbBackend implements IdentityBackend {
  readonly #db: RootDatabase<Uint8Array, string>;
  #closed = false;

  private constructor(db: RootDatabase<Uint8Array, string>) {
    this.#db = db;
  }

  static async open(options: LmdbBackendOptions): Promise<LmdbBackend> {
    if (options.signal?.aborted) throw new AbortedError(options.signal.reason);
    // Loaded here, not at import: an in-memory node never maps lmdb's native module.
    const { open } = await import('lmdb');
    const db = open<Uint8Array, string>({ path: options.path, encoding: 'binary', noSync: false });
    return new LmdbBackend(db);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.#db.get(key);
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    await this.#db.put(key, value);
    await this.#db.flushed;
  }

  async delete(key: string): Promise<boolean> {
    const removed = await this.#db.remove(key);
    await this.#db.flushed;
    return removed;
  }

  async *entries(prefix = ''): AsyncIterable<[string, Uint8Array]> {
    // Strings sort after numbers in lmdb's ordered-binary keys; our keys are all strings.
    for (const { key, value } of this.#db.getRange({ start: prefix })) {
      if (typeof key !== 'string' || !key.startsWith(prefix)) break;
      yield [key, value];
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#db.close();
  }
}
