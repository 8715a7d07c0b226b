import { SchemaError } from '@netmachine/core';
import { CHUNK_ID_BYTES } from './hashing.js';

/**
 * The stored form of a chunk, the bytes its id hashes:
 *
 *   leaf:      [version, 0] ciphertext(data)
 *   internal:  [version, 1] u32 n, n child ids, ciphertext(n × (child key, u64 child size))
 *
 * Child ids are in clear so that a storing node can walk and serve a tree (ChunkGetRequest with a
 * children depth) without being able to read it; child keys are encrypted, so holding the chunks
 * is not holding the content.
 */
export const CHUNK_FORMAT_VERSION = 1;

export const ChunkKind = { Leaf: 0, Internal: 1 } as const;
export type ChunkKind = (typeof ChunkKind)[keyof typeof ChunkKind];

export const LEAF_HEADER_BYTES = 2;
export const INTERNAL_HEADER_BYTES = 6;
/** One child in an internal chunk's encrypted part: its key and the plaintext bytes under it. */
export const CHILD_ENTRY_BYTES = 32 + 8;
/** Per child: the clear id plus the encrypted entry. */
const CHILD_TOTAL_BYTES = CHUNK_ID_BYTES + CHILD_ENTRY_BYTES;

export interface ParsedChunk {
  readonly kind: ChunkKind;
  /** Child ids (views into the chunk bytes); empty for a leaf. */
  readonly children: readonly Uint8Array[];
  /** The encrypted part (a view into the chunk bytes). */
  readonly ciphertext: Uint8Array;
}

/** How many children fit in an internal chunk no larger than `chunkSize`. */
export function maxFanout(chunkSize: number): number {
  return Math.floor((chunkSize - INTERNAL_HEADER_BYTES) / CHILD_TOTAL_BYTES);
}

export function encodeLeaf(ciphertext: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(LEAF_HEADER_BYTES + ciphertext.length);
  out[0] = CHUNK_FORMAT_VERSION;
  out[1] = ChunkKind.Leaf;
  out.set(ciphertext, LEAF_HEADER_BYTES);
  return out;
}

export function encodeInternal(childIds: readonly Uint8Array[], ciphertext: Uint8Array): Buffer {
  const idsBytes = childIds.length * CHUNK_ID_BYTES;
  const out = Buffer.allocUnsafe(INTERNAL_HEADER_BYTES + idsBytes + ciphertext.length);
  out[0] = CHUNK_FORMAT_VERSION;
  out[1] = ChunkKind.Internal;
  out.writeUInt32BE(childIds.length, 2);
  let offset = INTERNAL_HEADER_BYTES;
  for (const id of childIds) {
    out.set(id, offset);
    offset += CHUNK_ID_BYTES;
  }
  out.set(ciphertext, offset);
  return out;
}

/**
 * Reads the structure of stored chunk bytes. Throws SchemaError for bytes that are not a chunk;
 * it does not check the id (callers hash first) and cannot check the encrypted part.
 */
export function parseChunk(bytes: Uint8Array): ParsedChunk {
  if (bytes.length < LEAF_HEADER_BYTES) throw new SchemaError('chunk', 'shorter than its header');
  if (bytes[0] !== CHUNK_FORMAT_VERSION)
    throw new SchemaError('chunk.version', `unknown version ${bytes[0]}`);
  if (bytes[1] === ChunkKind.Leaf) {
    return { kind: ChunkKind.Leaf, children: [], ciphertext: bytes.subarray(LEAF_HEADER_BYTES) };
  }
  if (bytes[1] !== ChunkKind.Internal) throw new SchemaError('chunk.kind', `unknown kind ${bytes[1]}`);
  if (bytes.length < INTERNAL_HEADER_BYTES) throw new SchemaError('chunk', 'shorter than its header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(2);
  if (count === 0) throw new SchemaError('chunk.children', 'an internal chunk without children');
  if (bytes.length !== INTERNAL_HEADER_BYTES + count * CHILD_TOTAL_BYTES) {
    throw new SchemaError('chunk', `length ${bytes.length} does not match ${count} children`);
  }
  const children: Uint8Array[] = [];
  let offset = INTERNAL_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    children.push(bytes.subarray(offset, offset + CHUNK_ID_BYTES));
    offset += CHUNK_ID_BYTES;
  }
  return { kind: ChunkKind.Internal, children, ciphertext: bytes.subarray(offset) };
}
