import { type Logger, NotStartedError, noopLogger, SchemaError } from '@netmachine/core';
import {
  type BinaryTable,
  type ChunkTables,
  lmdbChunkTables,
  memoryChunkTables,
  type QueuedRow,
} from './chunk-tables.js';
import { CorruptChunkError, QuotaExceededError } from './errors.js';
import { StorageEvents } from './events.js';
import { CHUNK_ID_BYTES, chunkIdText, Hashing, sameBytes } from './hashing.js';

/** The expiry of a chunk kept until explicitly collected: never. */
export const NEVER_EXPIRES = Number.MAX_SAFE_INTEGER;
/** Expired chunks removed per garbage-collection transaction, so one pass never holds the writer long. */
const GC_BATCH = 1024;
const DEFAULT_GC_INTERVAL_MS = 60_000;

export interface BlockStoreOptions {
  /** Directory of the lmdb environment (created if missing); without it, chunks are kept in memory. */
  readonly path?: string | undefined;
  /** Maximum bytes of chunk content stored (default: unlimited). */
  readonly quotaBytes?: number;
  /** How often expired chunks are collected in the background; 0 turns the timer off. */
  readonly gcIntervalMs?: number;
  readonly logger?: Logger;
  readonly hashing?: Hashing;
}

export interface ChunkToStore {
  /** BLAKE3 of `bytes`. The caller vouches for it (it computed or verified it). */
  readonly id: Uint8Array;
  readonly bytes: Uint8Array;
}

export type PutStatus = 'stored' | 'exists';

export interface BlockStoreStats {
  readonly chunks: number;
  /** Bytes of chunk content held (what the quota counts; lmdb's own overhead is not included). */
  readonly usedBytes: number;
  readonly quotaBytes: number;
  readonly corruptChunks: number;
  readonly collectedChunks: number;
  readonly quotaRefusals: number;
}

// Per-chunk metadata: expiry (u64 ms) then size (u32).
const META_BYTES = 12;

function encodeMeta(expiry: number, size: number): Buffer {
  const out = Buffer.allocUnsafe(META_BYTES);
  out.writeUInt32BE(Math.floor(expiry / 2 ** 32), 0);
  out.writeUInt32BE(expiry >>> 0, 4);
  out.writeUInt32BE(size, 8);
  return out;
}

function metaExpiry(meta: Uint8Array): number {
  const view = Buffer.from(meta.buffer, meta.byteOffset, meta.byteLength);
  return view.readUInt32BE(0) * 2 ** 32 + view.readUInt32BE(4);
}

function metaSize(meta: Uint8Array): number {
  return Buffer.from(meta.buffer, meta.byteOffset, meta.byteLength).readUInt32BE(8);
}

/** Expiry index key: big-endian expiry then id, so a range scan from the start yields the oldest first. */
function indexKey(expiry: number, id: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(8 + CHUNK_ID_BYTES);
  out.writeUInt32BE(Math.floor(expiry / 2 ** 32), 0);
  out.writeUInt32BE(expiry >>> 0, 4);
  out.set(id, 8);
  return out;
}

function checkExpiry(expiry: number): number {
  if (!Number.isSafeInteger(expiry) || expiry < 0)
    throw new SchemaError('expiry', 'expected ms since the epoch');
  return expiry;
}

/**
 * The local chunk store: content-addressed chunks in lmdb (or, without a path, in memory).
 *
 * - Durable: `put` resolves when lmdb has committed; `flush` waits for the fsync. Committed data is
 *   in the OS page cache, so it survives the process being killed; `flush` adds power-loss safety.
 * - Never serves a damaged chunk: every read re-hashes; a mismatch is counted, reported, removed
 *   (so it can be fetched again) and raised as CorruptChunkError.
 * - Each chunk has an expiry (the latest any writer asked for); expired chunks read as absent and
 *   are collected by `collectGarbage` (also run on a timer).
 * - A quota on the content bytes; a batch that would pass it is refused whole with QuotaExceededError.
 */
export class BlockStore {
  readonly events = new StorageEvents();
  readonly hashing: Hashing;
  readonly #root: ChunkTables;
  readonly #chunks: BinaryTable;
  readonly #meta: BinaryTable;
  readonly #expiryIndex: BinaryTable;
  readonly #quota: number;
  readonly #logger: Logger;
  readonly #background = new Set<Promise<unknown>>();
  /** Chunks (ids as latin1) with a write issued that has not finished, and how many such writes. */
  readonly #writing = new Map<string, number>();
  /** Puts queued as transactions whose body has not run yet (their usage is not counted yet). */
  #putTransactionsQueued = 0;
  #gcTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #used = 0;
  #count = 0;
  #corrupt = 0;
  #collected = 0;
  #quotaRefusals = 0;

  private constructor(root: ChunkTables, hashing: Hashing, options: BlockStoreOptions) {
    this.#root = root;
    this.hashing = hashing;
    this.#chunks = root.chunks;
    this.#meta = root.meta;
    this.#expiryIndex = root.expiry;
    this.#quota = options.quotaBytes ?? Number.POSITIVE_INFINITY;
    this.#logger = options.logger ?? noopLogger;
    // Usage is recounted from the metadata on open rather than persisted: it can never drift.
    for (const meta of this.#meta.values()) {
      this.#used += metaSize(meta);
      this.#count++;
    }
  }

  static async open(options: BlockStoreOptions): Promise<BlockStore> {
    const hashing = options.hashing ?? (await Hashing.create());
    const root = options.path === undefined ? memoryChunkTables() : await lmdbChunkTables(options.path);
    const store = new BlockStore(root, hashing, options);
    const interval = options.gcIntervalMs ?? DEFAULT_GC_INTERVAL_MS;
    if (interval > 0) {
      store.#gcTimer = setInterval(() => store.#backgroundGc(), interval);
      store.#gcTimer.unref();
    }
    return store;
  }

  /** A snapshot of the store's counters. */
  counters(): BlockStoreStats {
    return {
      chunks: this.#count,
      usedBytes: this.#used,
      quotaBytes: this.#quota,
      corruptChunks: this.#corrupt,
      collectedChunks: this.#collected,
      quotaRefusals: this.#quotaRefusals,
    };
  }

  /** True when the chunk is held and not expired (its bytes are not re-hashed here). */
  has(id: Uint8Array, now = Date.now()): boolean {
    this.#checkOpen();
    const meta = this.#meta.getBinary(id);
    return meta !== undefined && metaExpiry(meta) > now;
  }

  /** The chunk's expiry (ms since the epoch), or undefined when it is not held. */
  expiryOf(id: Uint8Array): number | undefined {
    this.#checkOpen();
    const meta = this.#meta.getBinary(id);
    return meta === undefined ? undefined : metaExpiry(meta);
  }

  /**
   * The chunk's bytes as stored, not re-hashed; undefined when not held or expired. For bytes that
   * are checked against `id` by whoever uses them, such as chunks served to a peer (a fetcher hashes
   * every chunk it receives); everything else reads with `get`.
   */
  getUnverified(id: Uint8Array, now = Date.now()): Uint8Array | undefined {
    this.#checkOpen();
    const meta = this.#meta.getBinary(id);
    if (meta === undefined || metaExpiry(meta) <= now) return undefined;
    return this.#chunks.getBinary(id);
  }

  /**
   * Like `getUnverified`, but the bytes are copied into a buffer from `take(length)` rather than a
   * fresh one, where the store would otherwise copy them anyway (lmdb); a store that keeps them in
   * memory returns its own (never changed) bytes and does not call `take`.
   */
  getUnverifiedInto(
    id: Uint8Array,
    take: (length: number) => Buffer,
    now = Date.now(),
  ): Uint8Array | undefined {
    this.#checkOpen();
    const meta = this.#meta.getBinary(id);
    if (meta === undefined || metaExpiry(meta) <= now) return undefined;
    const bytes = this.#chunks.getTransient(id);
    if (bytes === undefined || !this.#chunks.transientReads) return bytes;
    // Valid only until the next read, so copied out at once. lmdb's reused buffer is longer than the
    // value (its `length` says the value's), so the copy names its end.
    const length = bytes.length;
    const target = take(length);
    target.set(bytes.subarray(0, length));
    return target.subarray(0, length);
  }

  /**
   * The chunk's bytes after checking they still hash to `id`; undefined when not held or expired.
   * Throws CorruptChunkError (and removes the chunk) when they do not.
   */
  get(id: Uint8Array, now = Date.now()): Uint8Array | undefined {
    const bytes = this.getUnverified(id, now);
    if (bytes === undefined) return undefined;
    if (!sameBytes(this.hashing.chunkId(bytes), id)) {
      const text = chunkIdText(id);
      this.#corrupt++;
      this.#logger.error({ chunk: text }, 'corrupt chunk on disk: removed');
      this.events.emit({ type: 'chunk:corrupt', chunk: text, source: 'disk' });
      this.#track(this.#remove([id]));
      throw new CorruptChunkError(text, 'disk');
    }
    return bytes;
  }

  /**
   * Stores chunks (atomically, as one batch) until `expiry`. A chunk already held keeps its bytes and
   * has its expiry raised to `expiry` if that is later. Rejects with QuotaExceededError, storing
   * nothing, when the new bytes would pass the quota. Resolves once the batch is committed. `copied`
   * is called once the store has no more use for the chunks' bytes (written, or refused): from then
   * on the caller may reuse them. It is not called when the write fails.
   *
   * A batch of chunks that are neither held nor being written (the common case: a new object, a
   * fetch) is queued to lmdb's writer thread, which copies the bytes and commits it together with
   * whatever else is queued by then; the event loop does not wait for a transaction of its own. Any
   * other batch runs as a transaction that reads the chunks' state inside it.
   */
  async put(
    chunks: readonly ChunkToStore[],
    expiry: number = NEVER_EXPIRES,
    copied?: () => void,
  ): Promise<PutStatus[]> {
    this.#checkOpen();
    checkExpiry(expiry);
    const keys = chunks.map((c) => Buffer.from(c.id).toString('latin1'));
    // Quotas are applied in the order puts are issued, so a queued put never overtakes the count of a
    // transaction issued before it.
    const queued =
      this.#putTransactionsQueued === 0 &&
      chunks.every((c, i) => !this.#writing.has(keys[i]!) && this.#meta.getBinary(c.id) === undefined);
    for (const key of keys) this.#writing.set(key, (this.#writing.get(key) ?? 0) + 1);
    if (!queued) this.#putTransactionsQueued++;
    let counted = queued;
    try {
      const outcome = queued
        ? await this.#putQueued(chunks, keys, expiry, copied)
        : await this.#transaction(() => {
            counted = true;
            this.#putTransactionsQueued--;
            const result = this.#putInTransaction(chunks, expiry);
            copied?.();
            return result;
          });
      if (!Array.isArray(outcome)) {
        this.#quotaRefusals++;
        this.events.emit({
          type: 'quota:exceeded',
          needed: outcome.needed,
          used: outcome.used,
          quota: this.#quota,
        });
        throw new QuotaExceededError(outcome.needed, outcome.used, this.#quota);
      }
      return outcome;
    } finally {
      // A transaction that failed before its body ran.
      if (!counted) this.#putTransactionsQueued--;
      for (const key of keys) {
        const left = (this.#writing.get(key) ?? 1) - 1;
        if (left === 0) this.#writing.delete(key);
        else this.#writing.set(key, left);
      }
    }
  }

  /**
   * Writes chunks none of which is held or being written, through lmdb's write queue. Its usage is
   * counted when queued (so a quota check made meanwhile sees it) and uncounted if the write fails.
   */
  async #putQueued(
    chunks: readonly ChunkToStore[],
    keys: readonly string[],
    expiry: number,
    copied: (() => void) | undefined,
  ): Promise<PutStatus[] | { needed: number; used: number }> {
    const rows: QueuedRow[] = [];
    const statuses: PutStatus[] = [];
    const seen = new Set<string>();
    let needed = 0;
    chunks.forEach((c, i) => {
      const key = keys[i]!;
      // The same chunk twice in one batch is stored once.
      if (seen.has(key)) {
        statuses.push('exists');
        return;
      }
      seen.add(key);
      needed += c.bytes.length;
      statuses.push('stored');
      rows.push(
        { table: 'chunks', key: c.id, value: c.bytes },
        { table: 'meta', key: c.id, value: encodeMeta(expiry, c.bytes.length) },
        { table: 'expiry', key: indexKey(expiry, c.id), value: Buffer.alloc(1) },
      );
    });
    if (this.#used + needed > this.#quota) {
      copied?.();
      return { needed, used: this.#used };
    }
    this.#used += needed;
    this.#count += seen.size;
    const written = this.#root.queueWrites(rows);
    this.#track(written);
    try {
      await written;
    } catch (error) {
      this.#used -= needed;
      this.#count -= seen.size;
      throw error;
    }
    copied?.();
    return statuses;
  }

  /** Inside a write transaction: the statuses, or what the quota refused. */
  #putInTransaction(
    chunks: readonly ChunkToStore[],
    expiry: number,
  ): PutStatus[] | { needed: number; used: number } {
    const fresh = new Set<string>();
    const metas = chunks.map((c) => this.#meta.getBinary(c.id));
    let needed = 0;
    chunks.forEach((c, i) => {
      if (metas[i] !== undefined) return;
      const key = Buffer.from(c.id).toString('latin1');
      if (fresh.has(key)) return;
      fresh.add(key);
      needed += c.bytes.length;
    });
    if (this.#used + needed > this.#quota) return { needed, used: this.#used };
    const statuses: PutStatus[] = [];
    const written = new Set<string>();
    chunks.forEach((c, i) => {
      const key = Buffer.from(c.id).toString('latin1');
      const meta = metas[i];
      if (meta === undefined && !written.has(key)) {
        written.add(key);
        this.#chunks.putSync(c.id, c.bytes);
        this.#meta.putSync(c.id, encodeMeta(expiry, c.bytes.length));
        this.#expiryIndex.putSync(indexKey(expiry, c.id), Buffer.alloc(1));
        this.#used += c.bytes.length;
        this.#count++;
        statuses.push('stored');
        return;
      }
      if (meta !== undefined) this.#raiseExpiry(c.id, meta, expiry);
      statuses.push('exists');
    });
    return statuses;
  }

  /** Raises the expiry of held chunks to `expiry` (never lowers it). Returns how many were held. */
  async extendExpiry(ids: readonly Uint8Array[], expiry: number): Promise<number> {
    this.#checkOpen();
    checkExpiry(expiry);
    return this.#transaction(() => {
      let held = 0;
      for (const id of ids) {
        const meta = this.#meta.getBinary(id);
        if (meta === undefined) continue;
        held++;
        this.#raiseExpiry(id, meta, expiry);
      }
      return held;
    });
  }

  /** Removes every chunk whose expiry is at or before `now`. Returns how many were removed. */
  async collectGarbage(now = Date.now()): Promise<number> {
    let removed = 0;
    for (;;) {
      this.#checkOpen();
      const end = indexKey(now + 1, new Uint8Array(CHUNK_ID_BYTES));
      const ids = this.#expiryIndex.keysBefore(end, GC_BATCH).map((key) => key.subarray(8));
      if (ids.length === 0) break;
      const { chunks, bytes } = await this.#remove(ids, now);
      removed += chunks;
      if (chunks > 0) this.events.emit({ type: 'chunk:collected', chunks, bytes });
      if (ids.length < GC_BATCH) break;
    }
    this.#collected += removed;
    return removed;
  }

  /** Resolves when everything written so far is flushed to disk. */
  async flush(): Promise<void> {
    this.#checkOpen();
    await this.#root.flushed();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#gcTimer);
    // Writes and collections still running finish first (new ones are refused from here on).
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
    await this.#root.flushed();
    await this.#root.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Inside a write transaction. */
  #raiseExpiry(id: Uint8Array, meta: Uint8Array, expiry: number): void {
    const current = metaExpiry(meta);
    if (expiry <= current) return;
    this.#expiryIndex.removeSync(indexKey(current, id));
    this.#expiryIndex.putSync(indexKey(expiry, id), Buffer.alloc(1));
    this.#meta.putSync(id, encodeMeta(expiry, metaSize(meta)));
  }

  /** Removes chunks; with `expiredBy`, only those still expired by then (a writer may have extended one). */
  #remove(ids: readonly Uint8Array[], expiredBy?: number): Promise<{ chunks: number; bytes: number }> {
    return this.#transaction(() => {
      let chunks = 0;
      let bytes = 0;
      for (const id of ids) {
        const meta = this.#meta.getBinary(id);
        if (meta === undefined) continue;
        const expiry = metaExpiry(meta);
        if (expiredBy !== undefined && expiry > expiredBy) continue;
        this.#chunks.removeSync(id);
        this.#meta.removeSync(id);
        this.#expiryIndex.removeSync(indexKey(expiry, id));
        this.#used -= metaSize(meta);
        this.#count--;
        chunks++;
        bytes += metaSize(meta);
      }
      return { chunks, bytes };
    });
  }

  #backgroundGc(): void {
    if (this.#closed) return;
    this.#track(
      this.collectGarbage().catch((error: unknown) => {
        if (!this.#closed) this.#logger.warn({ err: error }, 'garbage collection failed');
      }),
    );
  }

  /**
   * One lmdb write transaction, tracked until it has committed: `close` waits for every one, so the
   * environment is never closed under a write lmdb has not finished (its native side would be freed
   * under it).
   */
  #transaction<T>(body: () => T): Promise<T> {
    const done = this.#root.transaction(body);
    this.#track(done);
    return done;
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise.catch(() => {}).finally(() => this.#background.delete(tracked));
    this.#background.add(tracked);
  }

  #checkOpen(): void {
    if (this.#closed) throw new NotStartedError('block store');
  }
}
