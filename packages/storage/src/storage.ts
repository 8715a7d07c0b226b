import { createReadStream, createWriteStream } from 'node:fs';
import { rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlockStore, type BlockStoreOptions } from './block-store.js';
import { ConvergentCodec } from './convergent.js';
import { Hashing } from './hashing.js';
import { objectSize, type ReadObjectOptions, readObject } from './object-reader.js';
import { checkChunkSize, type WriteObjectOptions, writeObject } from './object-writer.js';
import { DEFAULT_CHUNK_SIZE } from './progress.js';
import type { ObjectReference } from './reference.js';

export interface StorageOptions extends Omit<BlockStoreOptions, 'hashing'> {
  /** Plaintext bytes per leaf chunk for puts (default 1 MiB). */
  readonly chunkSize?: number;
  /** Limits deduplication to writers sharing this secret (see Hashing.create). */
  readonly convergenceSecret?: Uint8Array;
}

export type PutOptions = Omit<WriteObjectOptions, 'chunkSize' | 'totalBytes'>;
export type GetOptions = ReadObjectOptions;

/**
 * Objects in the local store: `put` a file or stream and get a reference back, `get` a reference
 * as a stream or into a file. The network side (StorageEngine) fetches missing chunks into the same
 * store, after which `get` reads them locally.
 */
export class Storage {
  readonly store: BlockStore;
  readonly codec: ConvergentCodec;
  readonly chunkSize: number;

  private constructor(store: BlockStore, codec: ConvergentCodec, chunkSize: number) {
    this.store = store;
    this.codec = codec;
    this.chunkSize = chunkSize;
  }

  static async open(options: StorageOptions): Promise<Storage> {
    const chunkSize = checkChunkSize(options.chunkSize ?? DEFAULT_CHUNK_SIZE);
    const hashing = await Hashing.create(options.convergenceSecret);
    const store = await BlockStore.open({ ...options, hashing });
    return new Storage(store, new ConvergentCodec(hashing), chunkSize);
  }

  /** Stores bytes or a stream; resolves with the reference once the object is durable. */
  put(
    source: Uint8Array | AsyncIterable<Uint8Array>,
    options: PutOptions & { totalBytes?: number } = {},
  ): Promise<ObjectReference> {
    const totalBytes = source instanceof Uint8Array ? source.length : options.totalBytes;
    return writeObject(this.store, this.codec, source, { ...options, chunkSize: this.chunkSize, totalBytes });
  }

  /** Stores a file, streaming it (memory stays at a few chunks whatever the file's size). */
  async putFile(path: string, options: PutOptions = {}): Promise<ObjectReference> {
    const { size } = await stat(path);
    const stream = createReadStream(path, { highWaterMark: this.chunkSize, signal: options.signal });
    try {
      return await this.put(stream, { ...options, totalBytes: size });
    } finally {
      stream.destroy();
    }
  }

  /** The object's plaintext, in order, from the local store. */
  read(reference: ObjectReference, options: GetOptions = {}): AsyncGenerator<Uint8Array> {
    return readObject(this.store, this.codec, reference, options);
  }

  /** The object as a Readable stream. */
  get(reference: ObjectReference, options: GetOptions = {}): Readable {
    return Readable.from(this.read(reference, options), { objectMode: false });
  }

  /** Writes the object to `path` atomically (a temporary file renamed into place when complete). */
  async getToFile(reference: ObjectReference, path: string, options: GetOptions = {}): Promise<void> {
    const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.part`);
    try {
      await pipeline(this.get(reference, options), createWriteStream(temp), { signal: options.signal });
      await rename(temp, path);
    } catch (error) {
      await unlink(temp).catch(() => {});
      throw error;
    }
  }

  /** The object's plaintext size (reads its root chunk). */
  size(reference: ObjectReference): number {
    return objectSize(this.store, this.codec, reference);
  }

  async close(): Promise<void> {
    await this.store.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
