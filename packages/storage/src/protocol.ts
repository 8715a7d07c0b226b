import { expectArray, expectBytes, expectString, expectUint, SchemaError } from '@netmachine/core';
import { CHUNK_ID_BYTES } from './hashing.js';
import { MAX_CHUNK_SIZE } from './progress.js';

/**
 * The Storage engine's messages (bodies; the Router carries them). Results are ok/error tagged
 * unions, as the spec models `Result`.
 *
 * ChunkGetRequest{chunk, children}: `children` is false (the chunk only), true (the whole tree) or
 * n (down to depth n). The reply carries the chunk first, then descendants breadth first, as many
 * as fit the server's reply budget; the requester asks again for what is missing. A node that does
 * not hold the chunk answers with the commitments it knows for it, or not-found.
 *
 * ChunkPutRequest{chunks, expiry}: the server computes each id itself and answers with one signed
 * ChunkCommitment per chunk.
 *
 * Version 2 of chunk-get differs from version 1 only in the content reply: `['content', chunk, ...]`
 * instead of `{ok: true, content: [chunk, ...]}`. A plain array of bytes is written into the frame and
 * read back as views of it by the transport, without msgpackr: a 1 MiB chunk is copied once on each
 * side instead of three times. Servers answer both versions, each in its own shape.
 */
export const STORAGE_ENGINE_NAME = 'storage';
export const CHUNK_GET_PROTOCOL = 'storage/chunk-get@2';
/** The first version of chunk-get (content replies as a map), still answered. */
export const CHUNK_GET_PROTOCOL_V1 = 'storage/chunk-get@1';
/** First element of a version-2 content reply. */
const CONTENT_TAG = 'content';
export const CHUNK_PUT_PROTOCOL = 'storage/chunk-put@1';

/** Most chunks in one put request, and most commitments in one reply. */
export const MAX_PUT_CHUNKS = 256;
export const MAX_REPLY_COMMITMENTS = 64;
/** Deepest `children` depth accepted as a number (true means the whole tree anyway). */
export const MAX_CHILDREN_DEPTH = 64;

export interface ChunkGetRequest {
  readonly chunk: Uint8Array;
  readonly children: boolean | number;
}

export type ChunkGetReply =
  | { readonly ok: true; readonly content: readonly Uint8Array[] }
  | { readonly ok: true; readonly commitments: readonly unknown[] }
  | { readonly ok: false; readonly error: 'not-found' | 'invalid' | 'failed'; readonly message?: string };

export interface ChunkPutRequest {
  readonly chunks: readonly Uint8Array[];
  readonly expiry: number;
}

export interface ChunkPutResult {
  readonly status: 'stored' | 'exists';
  readonly commitment: unknown[];
}

export type ChunkPutReply =
  | { readonly ok: true; readonly results: readonly ChunkPutResult[] }
  | {
      readonly ok: false;
      readonly error: 'quota' | 'refused' | 'invalid' | 'failed';
      readonly message?: string;
    };

function expectRecord(value: unknown, path: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    throw new SchemaError(path, 'expected a map');
  }
  return value as Record<string, unknown>;
}

export function parseChunkGetRequest(body: unknown): ChunkGetRequest {
  const v = expectRecord(body, 'chunkGet');
  const chunk = expectBytes(v.chunk, 'chunkGet.chunk', CHUNK_ID_BYTES);
  const children =
    typeof v.children === 'boolean'
      ? v.children
      : expectUint(v.children, 'chunkGet.children', MAX_CHILDREN_DEPTH);
  return { chunk, children };
}

export function parseChunkPutRequest(body: unknown): ChunkPutRequest {
  const v = expectRecord(body, 'chunkPut');
  const chunks = expectArray(v.chunks, 'chunkPut.chunks', 1, MAX_PUT_CHUNKS).map((c, i) =>
    expectBytes(c, `chunkPut.chunks[${i}]`, undefined, MAX_CHUNK_SIZE + 1024 * 1024),
  );
  return { chunks, expiry: expectUint(v.expiry, 'chunkPut.expiry') };
}

function parseError<E extends string>(v: Record<string, unknown>, path: string, errors: readonly E[]) {
  const error = expectString(v.error, `${path}.error`, 32);
  if (!errors.includes(error as E)) throw new SchemaError(`${path}.error`, `unknown error ${error}`);
  const message =
    v.message === undefined || v.message === null
      ? undefined
      : expectString(v.message, `${path}.message`, 1024);
  return { ok: false as const, error: error as E, message };
}

/** The body of `reply` as sent under `protocol` (CHUNK_GET_PROTOCOL or CHUNK_GET_PROTOCOL_V1). */
export function chunkGetReplyBody(reply: ChunkGetReply, protocol: string): unknown {
  if (protocol !== CHUNK_GET_PROTOCOL || !('content' in reply)) return reply;
  return [CONTENT_TAG, ...reply.content];
}

/** A chunk-get reply of either version. */
export function parseChunkGetReply(body: unknown, maxChunks: number): ChunkGetReply {
  if (Array.isArray(body)) {
    if (body[0] !== CONTENT_TAG) throw new SchemaError('chunkGetReply[0]', `expected '${CONTENT_TAG}'`);
    const content = expectArray(body, 'chunkGetReply', 2, maxChunks + 1)
      .slice(1)
      .map((c, i) => expectBytes(c, `chunkGetReply[${i + 1}]`, undefined, MAX_CHUNK_SIZE + 1024 * 1024));
    return { ok: true, content };
  }
  const v = expectRecord(body, 'chunkGetReply');
  if (v.ok === false) return parseError(v, 'chunkGetReply', ['not-found', 'invalid', 'failed'] as const);
  if (v.ok !== true) throw new SchemaError('chunkGetReply.ok', 'expected a boolean');
  if (v.content !== undefined) {
    const content = expectArray(v.content, 'chunkGetReply.content', 1, maxChunks).map((c, i) =>
      expectBytes(c, `chunkGetReply.content[${i}]`, undefined, MAX_CHUNK_SIZE + 1024 * 1024),
    );
    return { ok: true, content };
  }
  const commitments = expectArray(v.commitments, 'chunkGetReply.commitments', 0, MAX_REPLY_COMMITMENTS);
  return { ok: true, commitments };
}

export function parseChunkPutReply(body: unknown, expected: number): ChunkPutReply {
  const v = expectRecord(body, 'chunkPutReply');
  if (v.ok === false)
    return parseError(v, 'chunkPutReply', ['quota', 'refused', 'invalid', 'failed'] as const);
  if (v.ok !== true) throw new SchemaError('chunkPutReply.ok', 'expected a boolean');
  const results = expectArray(v.results, 'chunkPutReply.results', expected, expected).map((r, i) => {
    const entry = expectRecord(r, `chunkPutReply.results[${i}]`);
    if (entry.status !== 'stored' && entry.status !== 'exists') {
      throw new SchemaError(`chunkPutReply.results[${i}].status`, 'expected stored or exists');
    }
    return {
      status: entry.status,
      commitment: expectArray(entry.commitment, `chunkPutReply.results[${i}].commitment`, 4, 4),
    } as ChunkPutResult;
  });
  return { ok: true, results };
}
