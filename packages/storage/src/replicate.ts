import { AbortedError, type EngineContext, type NodeId, SchemaError } from '@netmachine/core';
import { NEVER_EXPIRES } from './block-store.js';
import { type ChunkCommitment, commitmentFromWire, verifyCommitment } from './commitment.js';
import { sameBytes } from './hashing.js';
import { treeChunks } from './object-reader.js';
import { CHUNK_PUT_PROTOCOL, MAX_PUT_CHUNKS, parseChunkPutReply, STORAGE_ENGINE_NAME } from './protocol.js';
import type { ObjectReference } from './reference.js';
import type { Storage } from './storage.js';

export interface ReplicateOptions {
  readonly storage: Storage;
  /** How long the peers are asked to keep the chunks (ms since the epoch; default never). */
  readonly expiry?: number;
  readonly signal?: AbortSignal;
  /** Timeout of one put request (default 60 s). */
  readonly timeoutMs?: number;
  /** Most chunk bytes per put request (default 4 MiB, under the transport's frame limit). */
  readonly maxBatchBytes?: number;
  readonly engineName?: string;
  /** Called with each verified commitment (e.g. StorageEngine.rememberCommitments). */
  readonly onCommitments?: (commitments: readonly ChunkCommitment[]) => void;
}

export interface ReplicaResult {
  readonly peer: NodeId;
  /** Chunks the peer newly stored / already held. */
  readonly stored: number;
  readonly existed: number;
  /** The earliest expiry the peer committed to (it may cap what was asked). */
  readonly expiry: number | undefined;
  /** Why the peer stopped taking chunks, if it did (quota, refused, timeout...). */
  readonly error?: Error;
}

const DEFAULT_BATCH_BYTES = 4 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 60_000;

interface PeerProgress {
  peer: NodeId;
  stored: number;
  existed: number;
  expiry: number | undefined;
  error?: Error;
}

/**
 * Pushes an object held locally to peers: batches of chunks in ChunkPutRequests, each peer in
 * parallel. Every chunk a peer takes comes back with a signed commitment, which is verified (signed
 * by that peer, for that chunk) before it counts. A peer that refuses or fails is reported and
 * skipped for the rest of the object; the others go on.
 */
export async function replicateObject(
  context: EngineContext,
  reference: ObjectReference,
  peers: readonly NodeId[],
  options: ReplicateOptions,
): Promise<ReplicaResult[]> {
  const { storage, signal } = options;
  signal?.throwIfAborted();
  const expiry = options.expiry ?? NEVER_EXPIRES;
  const maxBatchBytes = options.maxBatchBytes ?? DEFAULT_BATCH_BYTES;
  const progress: PeerProgress[] = peers.map((peer) => ({ peer, stored: 0, existed: 0, expiry: undefined }));
  let batch: Array<{ id: Uint8Array; bytes: Uint8Array }> = [];
  let batchBytes = 0;

  const send = async (): Promise<void> => {
    if (batch.length === 0) return;
    if (signal?.aborted) throw new AbortedError(signal.reason);
    const chunks = batch;
    batch = [];
    batchBytes = 0;
    await Promise.all(
      progress
        .filter((p) => p.error === undefined)
        .map((p) => pushBatch(context, p, chunks, expiry, options)),
    );
  };

  for (const chunk of treeChunks(storage.store, reference.root)) {
    if (
      batch.length > 0 &&
      (batchBytes + chunk.bytes.length > maxBatchBytes || batch.length >= MAX_PUT_CHUNKS)
    ) {
      await send();
    }
    batch.push(chunk);
    batchBytes += chunk.bytes.length;
  }
  await send();
  return progress.map((p) => ({ ...p }));
}

async function pushBatch(
  context: EngineContext,
  progress: PeerProgress,
  chunks: ReadonlyArray<{ id: Uint8Array; bytes: Uint8Array }>,
  expiry: number,
  options: ReplicateOptions,
): Promise<void> {
  try {
    const reply = await context.request(
      { node: progress.peer, name: options.engineName ?? STORAGE_ENGINE_NAME },
      { chunks: chunks.map((c) => c.bytes), expiry },
      {
        protocol: CHUNK_PUT_PROTOCOL,
        timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        ...(options.signal ? { signal: options.signal } : {}),
      },
    );
    const parsed = parseChunkPutReply(reply.body, chunks.length);
    if (!parsed.ok) {
      progress.error = new SchemaError(
        'chunkPut',
        `peer answered ${parsed.error}${parsed.message ? `: ${parsed.message}` : ''}`,
      );
      return;
    }
    const commitments: ChunkCommitment[] = [];
    parsed.results.forEach((result, i) => {
      const commitment = verifyCommitment(commitmentFromWire(result.commitment));
      if (commitment.node !== progress.peer || !sameBytes(commitment.chunk, chunks[i]!.id)) {
        throw new SchemaError('chunkPut.commitment', 'commitment for another node or chunk');
      }
      commitments.push(commitment);
      if (result.status === 'stored') progress.stored++;
      else progress.existed++;
      progress.expiry = Math.min(progress.expiry ?? commitment.expiry, commitment.expiry);
    });
    options.onCommitments?.(commitments);
  } catch (error) {
    if (options.signal?.aborted) throw error;
    progress.error = error as Error;
  }
}
