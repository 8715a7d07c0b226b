import { AbortedError, SchemaError } from '@netmachine/core';
import type { BlockStore } from './block-store.js';
import { NEVER_EXPIRES } from './block-store.js';
import { maxFanout } from './chunk-format.js';
import type { ChildEntry, ConvergentCodec, SealedChunk } from './convergent.js';
import { DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, type ProgressCallback } from './progress.js';
import type { ObjectReference } from './reference.js';

export interface WriteObjectOptions {
  /** Plaintext bytes per leaf (default 1 MiB). Equal content only dedupes under the same chunk size. */
  readonly chunkSize?: number;
  /** When the object's chunks may be collected (ms since the epoch; default never). */
  readonly expiry?: number;
  /**
   * Chunks of an unfinished put expire this long after being written (default 6 h), so a put that
   * fails or is killed leaves nothing behind for long. The finished put raises them to `expiry`.
   */
  readonly pendingTtlMs?: number;
  /** Size of the source, if known, for progress reports. */
  readonly totalBytes?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressCallback;
}

const DEFAULT_PENDING_TTL_MS = 6 * 60 * 60_000;
/** Chunk writes in flight before reading more input: bounds memory to a few chunks. */
const MAX_PENDING_WRITES = 8;

/**
 * Builds the Merkle tree bottom-up while the input streams through: each level keeps at most one
 * internal chunk's worth of child entries, so memory is O(depth × chunk size), whatever the size
 * of the object.
 */
class TreeBuilder {
  readonly #levels: ChildEntry[][] = [];
  readonly #fanout: number;

  constructor(
    readonly codec: ConvergentCodec,
    chunkSize: number,
    readonly emit: (chunk: SealedChunk) => Promise<void>,
  ) {
    this.#fanout = maxFanout(chunkSize);
  }

  async add(level: number, entry: ChildEntry): Promise<void> {
    let entries = this.#levels[level];
    if (entries === undefined) {
      entries = [];
      this.#levels[level] = entries;
    }
    entries.push(entry);
    if (entries.length < this.#fanout) return;
    this.#levels[level] = [];
    await this.#sealInternal(level, entries);
  }

  /** Seals what remains; returns the root. */
  async finish(): Promise<ChildEntry> {
    for (let level = 0; level < this.#levels.length; level++) {
      const entries = this.#levels[level] ?? [];
      const top = level === this.#levels.length - 1;
      if (top && entries.length === 1) return entries[0]!;
      if (entries.length === 0) continue;
      this.#levels[level] = [];
      await this.#sealInternal(level, entries);
    }
    throw new SchemaError('tree', 'no root'); // unreachable: finish is called after at least one leaf
  }

  async #sealInternal(level: number, entries: ChildEntry[]): Promise<void> {
    const sealed = this.codec.sealInternal(entries);
    await this.emit(sealed);
    await this.add(level + 1, { id: sealed.id, key: sealed.key, size: sealed.size });
  }
}

/** Copies a stream of arbitrary pieces into chunk-size pieces. */
async function* rechunk(source: AsyncIterable<Uint8Array>, chunkSize: number): AsyncGenerator<Uint8Array> {
  let buffer = Buffer.allocUnsafe(chunkSize);
  let filled = 0;
  for await (const piece of source) {
    let offset = 0;
    while (offset < piece.length) {
      const take = Math.min(chunkSize - filled, piece.length - offset);
      buffer.set(piece.subarray(offset, offset + take), filled);
      filled += take;
      offset += take;
      if (filled === chunkSize) {
        yield buffer;
        buffer = Buffer.allocUnsafe(chunkSize);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buffer.subarray(0, filled);
}

export function checkChunkSize(chunkSize: number): number {
  if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new SchemaError('chunkSize', `expected an integer in ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}`);
  }
  return chunkSize;
}

/**
 * Splits, encrypts and stores an object; resolves with its reference once every chunk is durable.
 * Input is consumed as it is written, with at most a few chunks in flight.
 */
export async function writeObject(
  store: BlockStore,
  codec: ConvergentCodec,
  source: AsyncIterable<Uint8Array> | Uint8Array,
  options: WriteObjectOptions = {},
): Promise<ObjectReference> {
  const chunkSize = checkChunkSize(options.chunkSize ?? DEFAULT_CHUNK_SIZE);
  const expiry = options.expiry ?? NEVER_EXPIRES;
  const signal = options.signal;
  signal?.throwIfAborted();
  const pendingExpiry = Math.min(expiry, Date.now() + (options.pendingTtlMs ?? DEFAULT_PENDING_TTL_MS));
  const ids: Uint8Array[] = [];
  const pending: Promise<unknown>[] = [];

  const emit = async (chunk: SealedChunk): Promise<void> => {
    if (signal?.aborted) throw new AbortedError(signal.reason);
    ids.push(chunk.id);
    pending.push(store.put([chunk], pendingExpiry));
    if (pending.length >= MAX_PENDING_WRITES) await pending.shift();
  };

  const tree = new TreeBuilder(codec, chunkSize, emit);
  const input = source instanceof Uint8Array ? [source] : source;
  let bytes = 0;
  let leaves = 0;
  try {
    for await (const piece of rechunk(toAsync(input), chunkSize)) {
      const leaf = codec.sealLeaf(piece);
      await emit(leaf);
      await tree.add(0, { id: leaf.id, key: leaf.key, size: leaf.size });
      leaves++;
      bytes += piece.length;
      options.onProgress?.({ bytes, totalBytes: options.totalBytes });
    }
    if (leaves === 0) {
      const empty = codec.sealLeaf(new Uint8Array(0));
      await emit(empty);
      await tree.add(0, { id: empty.id, key: empty.key, size: 0 });
    }
    const root = await tree.finish();
    await Promise.all(pending);
    if (expiry > pendingExpiry) await store.extendExpiry(ids, expiry);
    await store.flush();
    options.onProgress?.({ bytes, totalBytes: bytes });
    return { root: root.id, key: root.key };
  } finally {
    // A failed put must not leave unobserved rejections behind.
    await Promise.allSettled(pending);
  }
}

async function* toAsync(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  for await (const piece of source) yield piece;
}
