import { setMaxListeners } from 'node:events';
import { availableParallelism } from 'node:os';
import {
  AbortedError,
  type EngineContext,
  type EngineMessage,
  type NodeId,
  releaseMessageBytes,
  SchemaError,
} from '@netmachine/core';
import { NEVER_EXPIRES } from './block-store.js';
import { ChunkKind, LEAF_HEADER_BYTES, type ParsedChunk, parseChunk } from './chunk-format.js';
import { commitmentFromWire, verifyCommitment } from './commitment.js';
import { ChunkNotFoundError, CorruptChunkError } from './errors.js';
import { HashPool } from './hash-pool.js';
import { chunkIdText, sameBytes } from './hashing.js';
import { PeerBook, type PeerScore } from './peers.js';
import type { ProgressCallback } from './progress.js';
import { CHUNK_GET_PROTOCOL, parseChunkGetReply, STORAGE_ENGINE_NAME } from './protocol.js';
import type { ObjectReference } from './reference.js';
import type { Storage } from './storage.js';

export interface FetchOptions {
  /** The local storage the object is fetched into. */
  readonly storage: Storage;
  /** Chunk requests in flight at once (default 8). */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  /** Called as leaves arrive (or are found locally): plaintext bytes and the object's size. */
  readonly onProgress?: ProgressCallback;
  /** Timeout of one chunk request (default 30 s). */
  readonly timeoutMs?: number;
  /** Expiry of the fetched chunks in the local store (default never). */
  readonly expiry?: number;
  /** Rounds over all peers for a chunk whose requests failed (timeouts, lost connections); default 3. */
  readonly rounds?: number;
  /** Name of the Storage engine on peers (default `storage`). */
  readonly engineName?: string;
  /**
   * Worker threads that check received chunks against their ids, off the event loop (default 0,
   * checked in line, where the native BLAKE3 loads; with the WebAssembly one, 1 on a machine with
   * four cores or more). Chunks under 64 KiB are always checked in line.
   */
  readonly hashThreads?: number;
}

export interface FetchResult {
  /** Chunks in the object's tree. */
  readonly chunks: number;
  /** Chunks fetched from peers (verified and stored). */
  readonly fetched: number;
  /** Chunks already held locally (not fetched again). */
  readonly local: number;
  /** Stored bytes received and verified. */
  readonly bytesFetched: number;
  /** Chunks received that did not match their id (each was fetched again elsewhere). */
  readonly corrupt: number;
  readonly totalBytes: number;
  readonly peers: readonly PeerScore[];
  /**
   * How often a worker waited because the local store had the most uncommitted chunks it may hold
   * (the disk, not the network, set the pace then), and those waits' milliseconds summed over workers.
   */
  readonly writeWaits: number;
  readonly writeWaitMs: number;
  /**
   * Milliseconds from the last chunk verified to the object being durable: the last commits and the
   * fsync, when nothing is received any more.
   */
  readonly flushMs: number;
}

const DEFAULT_CONCURRENCY = 8;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_ROUNDS = 3;
/**
 * Verified chunks whose local write has not committed yet. Writing behind the fetch keeps requests
 * flowing while lmdb commits; the bound caps the memory that holds (this many chunks).
 */
const MAX_PENDING_WRITES = 16;
/** How often a pending chunk request checks whether its peer has stalled. */
const HEDGE_CHECK_MS = 500;
/** Smaller chunks are hashed in line: a round trip to a worker would cost more than it saves. */
const MIN_POOLED_HASH_BYTES = 64 * 1024;

/** Why a hedged request that lost the race is aborted. */
const SUPERSEDED = new AbortedError('another peer answered first');

/** A verified chunk as received: its bytes lie in `reply`'s (which may be handed back once stored). */
interface Received {
  readonly bytes: Uint8Array;
  readonly reply: EngineMessage;
}

/** What asking one peer for one chunk gave: the verified chunk, or why not. */
type Outcome = Received | 'not-found' | 'failed' | 'corrupt' | 'aborted';

/**
 * Fetches an object's whole tree from peers into the local store, several chunks in flight.
 * Every chunk is hashed as it arrives and must match the id its parent (or the reference) names:
 * a peer sending anything else is counted and reported (`chunk:corrupt`) and the chunk is asked of
 * another peer; when no holder sends the right bytes the fetch fails with CorruptChunkError. Chunks already
 * held locally are not fetched again, so a fetch cut short (connection loss, abort) resumes where
 * it stopped when called again. Read the object afterwards with `storage.get(reference)`.
 */
export async function fetchObject(
  context: EngineContext,
  reference: ObjectReference,
  peers: readonly NodeId[],
  options: FetchOptions,
): Promise<FetchResult> {
  options.signal?.throwIfAborted();
  const run = new TreeFetch(context, reference, peers, options);
  return run.run();
}

interface Frame {
  readonly ids: readonly Uint8Array[];
  next: number;
}

class TreeFetch {
  readonly #context: EngineContext;
  readonly #reference: ObjectReference;
  readonly #storage: Storage;
  readonly #options: FetchOptions;
  readonly #book: PeerBook;
  readonly #abort = new AbortController();
  readonly #hashPool: HashPool | undefined;
  readonly #frames: Frame[];
  #inFlight = 0;
  /** Writes of verified chunks issued and not yet committed. */
  readonly #writes = new Set<Promise<void>>();
  /** Workers waiting for a write to commit because MAX_PENDING_WRITES are pending. */
  readonly #writeWaiters: Array<() => void> = [];
  #wake: (() => void) | undefined;
  #failure: unknown;
  #chunks = 0;
  #fetched = 0;
  #local = 0;
  #bytesFetched = 0;
  #corrupt = 0;
  #bytes = 0;
  #totalBytes: number | undefined;
  #writeWaits = 0;
  #writeWaitMs = 0;

  constructor(
    context: EngineContext,
    reference: ObjectReference,
    peers: readonly NodeId[],
    options: FetchOptions,
  ) {
    this.#context = context;
    this.#reference = reference;
    this.#storage = options.storage;
    this.#options = options;
    this.#book = new PeerBook(peers.filter((p) => p !== context.self.node));
    this.#frames = [{ ids: [reference.root], next: 0 }];
    // A thread costs its start and a copy of every chunk. The native BLAKE3 hashes a chunk in less
    // than that copy takes, so it always hashes in line; the WebAssembly one is worth a thread from
    // four cores on (on two, the fetching and the serving process already fill the machine).
    const hashThreads =
      options.hashThreads ??
      (this.#storage.store.hashing.implementation === 'wasm' && availableParallelism() >= 4 ? 1 : 0);
    this.#hashPool = hashThreads > 0 ? new HashPool(hashThreads) : undefined;
    // Every request in flight listens on this one signal.
    setMaxListeners((options.concurrency ?? DEFAULT_CONCURRENCY) + 16, this.#abort.signal);
  }

  async run(): Promise<FetchResult> {
    const outer = this.#options.signal;
    const onAbort = () => this.#fail(new AbortedError(outer?.reason));
    outer?.addEventListener('abort', onAbort, { once: true });
    try {
      const workers = Math.max(1, this.#options.concurrency ?? DEFAULT_CONCURRENCY);
      await Promise.all(Array.from({ length: workers }, () => this.#worker()));
    } finally {
      outer?.removeEventListener('abort', onAbort);
      await this.#hashPool?.close();
    }
    const received = performance.now();
    while (this.#writes.size > 0) await Promise.all(this.#writes);
    if (this.#failure !== undefined) throw this.#failure;
    await this.#storage.store.flush();
    const flushMs = performance.now() - received;
    return {
      chunks: this.#chunks,
      fetched: this.#fetched,
      local: this.#local,
      bytesFetched: this.#bytesFetched,
      corrupt: this.#corrupt,
      totalBytes: this.#totalBytes ?? this.#bytes,
      peers: this.#book.scores(),
      writeWaits: this.#writeWaits,
      writeWaitMs: this.#writeWaitMs,
      flushMs,
    };
  }

  async #worker(): Promise<void> {
    for (;;) {
      if (this.#failure !== undefined) return;
      const id = this.#nextId();
      if (id === undefined) {
        if (this.#inFlight === 0) return;
        await new Promise<void>((resolve) => {
          const previous = this.#wake;
          this.#wake = () => {
            previous?.();
            resolve();
          };
        });
        continue;
      }
      this.#inFlight++;
      try {
        const chunk = await this.#obtain(id);
        if (chunk.kind === ChunkKind.Internal) this.#frames.push({ ids: chunk.children, next: 0 });
      } catch (error) {
        this.#fail(error);
      } finally {
        this.#inFlight--;
        const wake = this.#wake;
        this.#wake = undefined;
        wake?.();
      }
    }
  }

  /** The next chunk to obtain: depth first, so leaves arrive roughly in order and few ids are held. */
  #nextId(): Uint8Array | undefined {
    for (let i = this.#frames.length - 1; i >= 0; i--) {
      const frame = this.#frames[i]!;
      if (frame.next < frame.ids.length) return frame.ids[frame.next++];
      if (i === this.#frames.length - 1) this.#frames.pop();
    }
    return undefined;
  }

  #fail(error: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    this.#abort.abort(error);
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #obtain(id: Uint8Array): Promise<ParsedChunk> {
    const local = this.#readLocal(id);
    const received = local === undefined ? await this.#fetchFromPeers(id) : undefined;
    const bytes = local ?? (received as Received).bytes;
    // Everything that reads the bytes is done before they are queued for the store, which may hand
    // their buffer back to the transport as soon as it has copied them.
    const chunk = parseChunk(bytes);
    if (sameBytes(id, this.#reference.root)) this.#learnTotal(chunk);
    if (received === undefined) {
      this.#local++;
    } else {
      // A leaf's bytes are not used after the store's copy; an internal chunk's child ids are views
      // of its bytes that the walk keeps, so its buffer is left to the GC.
      await this.#writeBehind(id, bytes, chunk.kind === ChunkKind.Leaf ? received.reply : undefined);
      this.#fetched++;
      this.#bytesFetched += bytes.length;
    }
    this.#chunks++;
    if (chunk.kind === ChunkKind.Leaf) {
      this.#bytes += bytes.length - LEAF_HEADER_BYTES;
      this.#options.onProgress?.({ bytes: this.#bytes, totalBytes: this.#totalBytes });
    }
    return chunk;
  }

  /**
   * Stores a verified chunk without waiting for the commit, unless too many are pending. Each chunk
   * is its own put: the store queues it to lmdb's writer thread, which copies it and commits it with
   * every other write queued by then, so chunks verified while a commit runs go into the next one
   * (a few commits per object, not one per chunk) and the event loop never waits for a transaction.
   */
  async #writeBehind(id: Uint8Array, bytes: Uint8Array, reply: EngineMessage | undefined): Promise<void> {
    if (this.#writes.size >= MAX_PENDING_WRITES) {
      const waited = performance.now();
      this.#writeWaits++;
      while (this.#writes.size >= MAX_PENDING_WRITES) {
        await new Promise<void>((resolve) => this.#writeWaiters.push(resolve));
      }
      this.#writeWaitMs += performance.now() - waited;
    }
    // Once the store has no more use for the bytes (committed) the transport may read the next large
    // frames into their buffer: fresh 1 MiB buffers per chunk cost page faults and GC.
    const copied = reply === undefined ? undefined : () => releaseMessageBytes(reply);
    const write: Promise<void> = this.#storage.store
      .put([{ id, bytes }], this.#options.expiry ?? NEVER_EXPIRES, copied)
      .then(
        () => {},
        (error: unknown) => this.#fail(error),
      )
      .finally(() => {
        this.#writes.delete(write);
        this.#writeWaiters.shift()?.();
      });
    this.#writes.add(write);
  }

  /** The root tells the object's size, and checks the reference's key before any more is fetched. */
  #learnTotal(root: ParsedChunk): void {
    const codec = this.#storage.codec;
    this.#totalBytes =
      root.kind === ChunkKind.Leaf
        ? codec.openLeaf(this.#reference.key, root, true).length
        : codec.openInternal(this.#reference.key, root).reduce((sum, c) => sum + c.size, 0);
    this.#options.onProgress?.({ bytes: this.#bytes, totalBytes: this.#totalBytes });
  }

  #readLocal(id: Uint8Array): Uint8Array | undefined {
    try {
      return this.#storage.store.get(id);
    } catch (error) {
      // The store removed the damaged copy; fetch a good one.
      if (error instanceof CorruptChunkError) return undefined;
      throw error;
    }
  }

  async #fetchFromPeers(id: Uint8Array): Promise<Received> {
    const rounds = this.#options.rounds ?? DEFAULT_ROUNDS;
    const signal = this.#abort.signal;
    let corrupt = false;
    for (let round = 0; round < rounds; round++) {
      const tried = new Set<NodeId>();
      let transientFailures = 0;
      for (let peer = this.#book.pick(tried); peer !== undefined; peer = this.#book.pick(tried)) {
        if (signal.aborted) throw signal.reason;
        const outcome = await this.#askHedged(peer, id, tried);
        if (typeof outcome === 'object') return outcome;
        if (outcome === 'failed') transientFailures++;
        if (outcome === 'corrupt') corrupt = true;
      }
      if (transientFailures === 0 || round === rounds - 1) break;
      await delay(50 * 2 ** round, signal);
    }
    // Holders answered, but only with bytes that are not the chunk (damaged copies, or lies).
    if (corrupt) throw new CorruptChunkError(chunkIdText(id), 'peers');
    throw new ChunkNotFoundError(chunkIdText(id));
  }

  /**
   * Asks `peer`; if it stalls (nothing served for a while with requests pending, as when its
   * process died and the request can only fail at its timeout), asks a responsive peer too and
   * takes the first verified answer. The stall counts as a failure of the stalled peer.
   */
  async #askHedged(peer: PeerScore, id: Uint8Array, tried: Set<NodeId>): Promise<Outcome> {
    const attempt = new AbortController();
    const onAbort = () => attempt.abort(this.#abort.signal.reason);
    this.#abort.signal.addEventListener('abort', onAbort, { once: true });
    const running = new Map<number, Promise<[number, Outcome]>>();
    let launched = 0;
    const launch = (target: PeerScore) => {
      tried.add(target.node);
      const n = launched++;
      running.set(
        n,
        this.#ask(target, id, attempt.signal).then((outcome): [number, Outcome] => [n, outcome]),
      );
    };
    launch(peer);
    let timer: NodeJS.Timeout | undefined;
    let result: Outcome | undefined;
    try {
      while (running.size > 0) {
        const tick = new Promise<'tick'>((resolve) => {
          timer = setTimeout(() => resolve('tick'), HEDGE_CHECK_MS);
        });
        const next = await Promise.race([...running.values(), tick]);
        clearTimeout(timer);
        if (next === 'tick') {
          const alternative = running.size === 1 ? this.#book.pickResponsive(tried) : undefined;
          if (alternative !== undefined && this.#book.isStalled(peer)) {
            peer.failures++;
            launch(alternative);
          }
          continue;
        }
        const [n, outcome] = next;
        running.delete(n);
        if (typeof outcome === 'object') return outcome;
        // A transient failure matters most: it earns the chunk another round over the peers.
        if (result === undefined || result === 'aborted' || outcome === 'failed') result = outcome;
      }
      if (this.#abort.signal.aborted) throw this.#abort.signal.reason;
      return result ?? 'failed';
    } finally {
      clearTimeout(timer);
      this.#abort.signal.removeEventListener('abort', onAbort);
      // A slower request still out is no longer wanted. Only then: aborting builds a DOMException
      // and runs every listener of the signal, which cost 5 % of a 64 MiB fetch when done per chunk.
      if (running.size > 0) attempt.abort(SUPERSEDED);
    }
  }

  /** One request to one peer: the verified chunk, or why not. Never rejects. */
  async #ask(peer: PeerScore, id: Uint8Array, signal: AbortSignal): Promise<Outcome> {
    this.#book.started(peer);
    const started = performance.now();
    let reply: EngineMessage;
    try {
      reply = await this.#context.request(
        { node: peer.node, name: this.#options.engineName ?? STORAGE_ENGINE_NAME },
        { chunk: id, children: false },
        { protocol: CHUNK_GET_PROTOCOL, timeoutMs: this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS, signal },
      );
    } catch (error) {
      if (signal.aborted) return 'aborted';
      peer.failures++;
      this.#context.logger.debug({ peer: peer.node, err: error }, 'chunk request failed');
      return 'failed';
    } finally {
      peer.inFlight--;
    }
    let parsed: ReturnType<typeof parseChunkGetReply>;
    try {
      parsed = parseChunkGetReply(reply.body, 4096);
    } catch (error) {
      if (!(error instanceof SchemaError)) throw error;
      peer.failures++;
      return 'failed';
    }
    if (!parsed.ok) {
      if (parsed.error === 'not-found') peer.notFound++;
      else peer.failures++;
      return parsed.error === 'not-found' ? 'not-found' : 'failed';
    }
    if ('commitments' in parsed) {
      this.#learnFromCommitments(id, parsed.commitments);
      peer.notFound++;
      return 'not-found';
    }
    const bytes = parsed.content[0]!;
    if (!sameBytes(await this.#chunkId(bytes), id)) {
      releaseMessageBytes(reply);
      peer.corrupt++;
      this.#corrupt++;
      const chunk = chunkIdText(id);
      this.#context.logger.warn({ peer: peer.node, chunk }, 'peer sent a chunk that does not match its id');
      this.#storage.store.events.emit({ type: 'chunk:corrupt', chunk, source: 'peer', peer: peer.node });
      return 'corrupt';
    }
    this.#book.succeeded(peer, performance.now() - started);
    return { bytes, reply };
  }

  /** The id of received bytes: on a worker thread for large chunks, else (or if the pool failed) in line. */
  async #chunkId(bytes: Uint8Array): Promise<Uint8Array> {
    const pool = this.#hashPool;
    if (pool !== undefined && bytes.length >= MIN_POOLED_HASH_BYTES) {
      try {
        return await pool.chunkId(bytes);
      } catch {
        // Closed (the fetch is ending) or a worker failed: the check is still made, here.
      }
    }
    return this.#storage.store.hashing.chunkId(bytes);
  }

  /** Nodes that signed a commitment for this chunk become candidates (bad ones are ignored). */
  #learnFromCommitments(id: Uint8Array, wire: readonly unknown[]): void {
    const now = Date.now();
    for (const entry of wire) {
      try {
        const commitment = verifyCommitment(commitmentFromWire(entry));
        if (
          sameBytes(commitment.chunk, id) &&
          commitment.expiry > now &&
          commitment.node !== this.#context.self.node
        ) {
          this.#book.add(commitment.node);
        }
      } catch {
        // A malformed or forged commitment points nowhere.
      }
    }
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
