import {
  type EngineAddress,
  type EngineContext,
  type EngineHandler,
  type EngineMessage,
  formatEngineAddress,
  type KeyPair,
  type Logger,
  NetmachineError,
  type NodeId,
  noopLogger,
  releaseWhenEncoded,
} from '@netmachine/core';
import { NEVER_EXPIRES } from './block-store.js';
import { ChunkKind, parseChunk } from './chunk-format.js';
import { type ChunkCommitment, commitmentToWire, signCommitment } from './commitment.js';
import { CommitmentCache } from './commitment-cache.js';
import { CorruptChunkError, QuotaExceededError } from './errors.js';
import { type FetchOptions, type FetchResult, fetchObject } from './fetch.js';
import { chunkIdText } from './hashing.js';
import {
  CHUNK_GET_PROTOCOL,
  CHUNK_GET_PROTOCOL_V1,
  CHUNK_PUT_PROTOCOL,
  type ChunkGetReply,
  type ChunkPutReply,
  chunkGetReplyBody,
  MAX_REPLY_COMMITMENTS,
  parseChunkGetRequest,
  parseChunkPutRequest,
} from './protocol.js';
import type { ObjectReference } from './reference.js';
import { type ReplicaResult, type ReplicateOptions, replicateObject } from './replicate.js';
import { ServeBuffers } from './serve-buffers.js';
import type { Storage } from './storage.js';

export interface StorageEngineOptions {
  readonly storage: Storage;
  /** The node's key: it signs the ChunkCommitments this node gives. */
  readonly keyPair: KeyPair;
  readonly logger?: Logger;
  /** Most chunk bytes in one reply; stays well under the transport's frame limit (default 8 MiB). */
  readonly maxReplyBytes?: number;
  /** Latest expiry a peer may ask this node to keep a chunk, relative to now (default 30 days). */
  readonly maxPutTtlMs?: number;
  /** Decides whether a peer may store chunks here (default: every peer). */
  readonly acceptPut?: (from: EngineAddress) => boolean;
  /**
   * Re-hash every chunk before serving it (default false). A fetcher checks every chunk it receives
   * against the id it asked for, so a chunk damaged here is caught there (and asked of another
   * holder) either way; checking here too costs a BLAKE3 pass per chunk served, and buys that a
   * damaged chunk is found, reported and removed by this node rather than only by its fetchers.
   * Local reads (`storage.get`, `storage.read`) always re-hash.
   */
  readonly verifyOnServe?: boolean;
}

export interface StorageEngineCounters {
  getRequests: number;
  chunksServed: number;
  bytesServed: number;
  notFound: number;
  commitmentReplies: number;
  putRequests: number;
  chunksStored: number;
  putsRefused: number;
  invalidRequests: number;
  /** Served chunks copied into a buffer handed back by an earlier reply (see below), or a new one. */
  serveBuffersReused: number;
  serveBuffersAllocated: number;
}

const DEFAULT_MAX_REPLY_BYTES = 8 * 1024 * 1024;
const DEFAULT_MAX_PUT_TTL_MS = 30 * 24 * 60 * 60_000;

/**
 * The Storage engine: serves chunks from the local store to other engines and nodes, and stores
 * chunks they push, answering with signed commitments. Spawn its `handler` under the name
 * `storage` (STORAGE_ENGINE_NAME). Requests are answered from lmdb synchronously, so the engine's
 * one-at-a-time mailbox is not a bottleneck. Chunks are served as stored (the fetcher hashes each
 * one against its id) unless `verifyOnServe` asks for a re-hash here first.
 */
export class StorageEngine {
  readonly storage: Storage;
  readonly #counters: StorageEngineCounters = {
    getRequests: 0,
    chunksServed: 0,
    bytesServed: 0,
    notFound: 0,
    commitmentReplies: 0,
    putRequests: 0,
    chunksStored: 0,
    putsRefused: 0,
    invalidRequests: 0,
    serveBuffersReused: 0,
    serveBuffersAllocated: 0,
  };
  /** Commitments this node learned from peers (when it replicated to them), to point askers there. */
  readonly commitments = new CommitmentCache();
  readonly handler: EngineHandler;
  readonly #keyPair: KeyPair;
  readonly #logger: Logger;
  readonly #maxReplyBytes: number;
  readonly #maxPutTtlMs: number;
  readonly #acceptPut: (from: EngineAddress) => boolean;
  readonly #verifyOnServe: boolean;
  /** Where served chunks are copied from lmdb's reused read buffer, until their reply is encoded. */
  readonly #serveBuffers = new ServeBuffers();

  constructor(options: StorageEngineOptions) {
    this.storage = options.storage;
    this.#keyPair = options.keyPair;
    this.#logger = (options.logger ?? noopLogger).child({ component: 'storage' });
    this.#maxReplyBytes = options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
    this.#maxPutTtlMs = options.maxPutTtlMs ?? DEFAULT_MAX_PUT_TTL_MS;
    this.#acceptPut = options.acceptPut ?? (() => true);
    this.#verifyOnServe = options.verifyOnServe ?? false;
    this.handler = (message, context) => this.#handle(message, context);
  }

  /** A snapshot of the engine's counters. */
  counters(): StorageEngineCounters {
    const buffers = this.#serveBuffers.stats();
    return {
      ...this.#counters,
      serveBuffersReused: buffers.reused,
      serveBuffersAllocated: buffers.allocated,
    };
  }

  async #handle(message: EngineMessage, context: EngineContext): Promise<void> {
    switch (message.protocol) {
      case CHUNK_GET_PROTOCOL:
      case CHUNK_GET_PROTOCOL_V1: {
        const taken: Buffer[] = [];
        const body = chunkGetReplyBody(this.#get(message, taken), message.protocol) as object;
        // The chunks' buffers serve again once the transport has copied the reply into its frame.
        if (taken.length > 0) {
          const buffers = this.#serveBuffers;
          releaseWhenEncoded(body, () => {
            for (const buffer of taken) buffers.give(buffer);
          });
        }
        context.reply(message, body, { protocol: message.protocol });
        return;
      }
      case CHUNK_PUT_PROTOCOL:
        context.reply(message, await this.#put(message), { protocol: CHUNK_PUT_PROTOCOL });
        return;
      default:
        this.#counters.invalidRequests++;
        this.#logger.debug(
          { protocol: message.protocol, from: formatEngineAddress(message.src) },
          'unknown protocol',
        );
    }
  }

  /** The reply to a chunk-get; the buffers it copied chunks into are added to `taken`. */
  #get(message: EngineMessage, taken: Buffer[]): ChunkGetReply {
    this.#counters.getRequests++;
    let request: ReturnType<typeof parseChunkGetRequest>;
    try {
      request = parseChunkGetRequest(message.body);
    } catch (error) {
      this.#counters.invalidRequests++;
      return { ok: false, error: 'invalid', message: (error as Error).message };
    }
    const take = (length: number): Buffer => {
      const buffer = this.#serveBuffers.take(length);
      taken.push(buffer);
      return buffer;
    };
    const root = this.#read(request.chunk, take);
    if (root === undefined) {
      const known = this.commitments.get(request.chunk);
      if (known.length > 0) {
        this.#counters.commitmentReplies++;
        return { ok: true, commitments: known.slice(0, MAX_REPLY_COMMITMENTS).map(commitmentToWire) };
      }
      this.#counters.notFound++;
      return { ok: false, error: 'not-found' };
    }
    const content: Uint8Array[] = [root];
    const maxDepth = request.children === true ? Number.POSITIVE_INFINITY : Number(request.children);
    let budget = this.#maxReplyBytes - root.length;
    // Breadth first, so a reply cut by the budget holds whole upper levels.
    let level: Uint8Array[] = [root];
    for (let depth = 1; depth <= maxDepth && level.length > 0 && budget > 0; depth++) {
      const next: Uint8Array[] = [];
      for (const bytes of level) {
        const parsed = parseChunk(bytes);
        if (parsed.kind !== ChunkKind.Internal) continue;
        for (const id of parsed.children) {
          const child = this.#read(id, take);
          if (child === undefined) continue;
          if (child.length > budget) {
            budget = 0;
            break;
          }
          budget -= child.length;
          content.push(child);
          next.push(child);
        }
        if (budget <= 0) break;
      }
      level = next;
    }
    this.#counters.chunksServed += content.length;
    this.#counters.bytesServed += content.reduce((sum, c) => sum + c.length, 0);
    return { ok: true, content };
  }

  /**
   * A held chunk's bytes to serve, or undefined. With `verifyOnServe` they are re-hashed first (a
   * corrupt chunk is reported, removed and not served); without, the fetcher's check catches it, and
   * the bytes are copied into a buffer from `take` (lmdb would otherwise copy them into a new one).
   */
  #read(id: Uint8Array, take: (length: number) => Buffer): Uint8Array | undefined {
    if (!this.#verifyOnServe) return this.storage.store.getUnverifiedInto(id, take);
    try {
      return this.storage.store.get(id);
    } catch (error) {
      if (error instanceof CorruptChunkError) return undefined;
      throw error;
    }
  }

  async #put(message: EngineMessage): Promise<ChunkPutReply> {
    this.#counters.putRequests++;
    if (!this.#acceptPut(message.src)) {
      this.#counters.putsRefused++;
      return { ok: false, error: 'refused' };
    }
    let request: ReturnType<typeof parseChunkPutRequest>;
    try {
      request = parseChunkPutRequest(message.body);
      for (const bytes of request.chunks) parseChunk(bytes);
    } catch (error) {
      this.#counters.invalidRequests++;
      return { ok: false, error: 'invalid', message: (error as Error).message };
    }
    const expiry = Math.min(request.expiry, Date.now() + this.#maxPutTtlMs, NEVER_EXPIRES);
    const hashing = this.storage.store.hashing;
    const chunks = request.chunks.map((bytes) => ({ id: hashing.chunkId(bytes), bytes }));
    try {
      const statuses = await this.storage.store.put(chunks, expiry);
      this.#counters.chunksStored += statuses.filter((s) => s === 'stored').length;
      return {
        ok: true,
        results: chunks.map((c, i) => ({
          status: statuses[i]!,
          commitment: commitmentToWire(signCommitment(this.#keyPair, c.id, expiry)),
        })),
      };
    } catch (error) {
      this.#counters.putsRefused++;
      if (error instanceof QuotaExceededError) return { ok: false, error: 'quota', message: error.message };
      this.#logger.warn({ err: error }, 'storing pushed chunks failed');
      const text = error instanceof NetmachineError ? error.message : 'store failed';
      return { ok: false, error: 'failed', message: text };
    }
  }

  /**
   * Fetches an object from `peers` into this node's storage (see fetchObject); read it afterwards
   * with `storage.get(reference)` or `storage.getToFile(reference, path)`.
   */
  fetch(
    context: EngineContext,
    reference: ObjectReference,
    peers: readonly NodeId[],
    options: Omit<FetchOptions, 'storage'> = {},
  ): Promise<FetchResult> {
    return fetchObject(context, reference, peers, { ...options, storage: this.storage });
  }

  /**
   * Pushes an object held here to `peers` (see replicateObject). Their commitments are remembered,
   * so this node can point askers to them once it no longer holds the chunks itself.
   */
  replicate(
    context: EngineContext,
    reference: ObjectReference,
    peers: readonly NodeId[],
    options: Omit<ReplicateOptions, 'storage'> = {},
  ): Promise<ReplicaResult[]> {
    return replicateObject(context, reference, peers, {
      ...options,
      storage: this.storage,
      onCommitments: (commitments) => {
        this.rememberCommitments(commitments);
        options.onCommitments?.(commitments);
      },
    });
  }

  /** Remembers commitments peers gave for chunks (checked by the caller). */
  rememberCommitments(commitments: readonly ChunkCommitment[]): void {
    for (const commitment of commitments) this.commitments.add(commitment);
    if (commitments.length > 0) {
      this.#logger.debug(
        { chunk: chunkIdText(commitments[0]!.chunk), count: commitments.length },
        'commitments',
      );
    }
  }
}
