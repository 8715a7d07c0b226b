import { mkdir } from 'node:fs/promises';

/** One binary table of the block store: keys and values are bytes. */
export interface BinaryTable {
  getBinary(key: Uint8Array): Uint8Array | undefined;
  /**
   * The value's bytes without a copy where the table can: in lmdb a buffer it reuses for every read,
   * valid only until the next read of any of its tables (`transientReads`); in memory the stored bytes.
   */
  getTransient(key: Uint8Array): Uint8Array | undefined;
  /** Whether `getTransient`'s bytes are overwritten by the next read (copy them out first). */
  readonly transientReads: boolean;
  putSync(key: Uint8Array, value: Uint8Array): void;
  removeSync(key: Uint8Array): void;
  /** Keys before `end` in byte order, at most `limit` of them. */
  keysBefore(end: Uint8Array, limit: number): Uint8Array[];
  /** Every value, for the usage count on open. */
  values(): Iterable<Uint8Array>;
}

/**
 * Where the block store keeps its three tables (chunks, per-chunk metadata, expiry index): lmdb for
 * a node with a directory, plain maps for an in-memory node (which then never loads lmdb).
 */
export interface ChunkTables {
  readonly chunks: BinaryTable;
  readonly meta: BinaryTable;
  readonly expiry: BinaryTable;
  /** Runs `body` as one atomic write; resolves once committed. */
  transaction<T>(body: () => T): Promise<T>;
  /**
   * Queues rows to write as one atomic write, in order with `transaction`s, without running anything
   * on the event loop inside it: lmdb copies the values on its writer thread and commits them with
   * whatever else was queued meanwhile (one commit for many writes). Resolves once committed; the
   * values must not change until then.
   */
  queueWrites(rows: readonly QueuedRow[]): Promise<void>;
  /** Resolves when everything committed so far is on disk. */
  flushed(): Promise<void>;
  close(): Promise<void>;
}

/** One row for `queueWrites`. */
export interface QueuedRow {
  readonly table: 'chunks' | 'meta' | 'expiry';
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

const latin1 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');

/** A table in a Map; latin1 strings compare in the same order as the bytes they encode. */
class MemoryTable implements BinaryTable {
  readonly #rows = new Map<string, Uint8Array>();
  readonly transientReads = false;

  getBinary(key: Uint8Array): Uint8Array | undefined {
    return this.#rows.get(latin1(key));
  }

  getTransient(key: Uint8Array): Uint8Array | undefined {
    return this.#rows.get(latin1(key));
  }

  putSync(key: Uint8Array, value: Uint8Array): void {
    this.#rows.set(latin1(key), Buffer.from(value));
  }

  removeSync(key: Uint8Array): void {
    this.#rows.delete(latin1(key));
  }

  keysBefore(end: Uint8Array, limit: number): Uint8Array[] {
    const bound = latin1(end);
    return [...this.#rows.keys()]
      .filter((key) => key < bound)
      .sort()
      .slice(0, limit)
      .map((key) => Buffer.from(key, 'latin1'));
  }

  values(): Iterable<Uint8Array> {
    return this.#rows.values();
  }
}

/** Tables that live as long as the process: for an in-memory node and tests. */
export function memoryChunkTables(): ChunkTables {
  const tables = { chunks: new MemoryTable(), meta: new MemoryTable(), expiry: new MemoryTable() };
  return {
    ...tables,
    transaction: async (body) => body(),
    queueWrites: async (rows) => {
      for (const row of rows) tables[row.table].putSync(row.key, row.value);
    },
    flushed: async () => {},
    close: async () => {},
  };
}

/** The lmdb environment in `path` (created if missing); lmdb is loaded only here. */
export async function lmdbChunkTables(path: string): Promise<ChunkTables> {
  await mkdir(path, { recursive: true });
  const { open } = await import('lmdb');
  const root = open({ path, maxDbs: 4 });
  const binary = { encoding: 'binary', keyEncoding: 'binary' } as const;
  const dbs = {
    chunks: root.openDB<Buffer, Uint8Array>({ name: 'chunks', ...binary }),
    meta: root.openDB<Buffer, Uint8Array>({ name: 'meta', ...binary }),
    expiry: root.openDB<Buffer, Uint8Array>({ name: 'expiry', ...binary }),
  };
  const asBuffer = (value: Uint8Array): Buffer =>
    Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const table = (name: keyof typeof dbs): BinaryTable => {
    const db = dbs[name];
    return {
      getBinary: (key) => db.getBinary(key),
      getTransient: (key) => db.getBinaryFast(key),
      transientReads: true,
      putSync: (key, value) => {
        db.putSync(key, asBuffer(value));
      },
      removeSync: (key) => {
        db.removeSync(key);
      },
      keysBefore: (end, limit) => [...db.getKeys({ end, limit })],
      values: () => db.getRange({}).map(({ value }) => value),
    };
  };
  return {
    chunks: table('chunks'),
    meta: table('meta'),
    expiry: table('expiry'),
    transaction: (body) => root.transaction(body),
    queueWrites: async (rows) => {
      // Writes issued in one turn of the event loop go into one lmdb transaction (its
      // `eventTurnBatching`, on by default), so these rows commit together: the last one's promise
      // resolves when all have. lmdb keeps a reference to each value until then and reads it on its
      // writer thread.
      let last: Promise<boolean> | undefined;
      for (const row of rows) last = dbs[row.table].put(row.key, asBuffer(row.value));
      await last;
    },
    flushed: async () => {
      await root.flushed;
    },
    close: () => root.close(),
  };
}
