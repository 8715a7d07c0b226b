import { createCipheriv } from 'node:crypto';
import { SchemaError } from '@netmachine/core';
import {
  CHILD_ENTRY_BYTES,
  ChunkKind,
  encodeInternal,
  encodeLeaf,
  type ParsedChunk,
} from './chunk-format.js';
import { CHUNK_KEY_BYTES, type Hashing, sameBytes } from './hashing.js';

/**
 * Convergent encryption of chunks.
 *
 * A chunk's key is the keyed BLAKE3 of its plaintext, so equal content gives equal ciphertext and
 * equal ids: it deduplicates across writers. The cipher is AES-256-CTR with a fixed zero IV. That is
 * sound here because a key is a function of the one plaintext it encrypts: two different plaintexts
 * never share a key (short of a BLAKE3 collision), so no keystream is ever reused across different
 * data. An AEAD tag would add nothing: the ciphertext is authenticated by its id, which the reader
 * got from the verified parent (or the reference). CTR keeps chunks length-preserving and runs at
 * several GB/s through node:crypto.
 */
const ZERO_IV = Buffer.alloc(16);

/** A child as its parent records it: where it is, how to read it, and how many plaintext bytes it holds. */
export interface ChildEntry {
  readonly id: Uint8Array;
  readonly key: Uint8Array;
  /** Plaintext bytes of the whole subtree under this child. */
  readonly size: number;
}

/** A sealed chunk ready to store. */
export interface SealedChunk extends ChildEntry {
  readonly bytes: Uint8Array;
}

function aesCtr(key: Uint8Array, data: Uint8Array): Buffer {
  const cipher = createCipheriv('aes-256-ctr', key, ZERO_IV);
  const out = cipher.update(data);
  cipher.final();
  return out;
}

export class ConvergentCodec {
  constructor(readonly hashing: Hashing) {}

  sealLeaf(plaintext: Uint8Array): SealedChunk {
    const key = this.hashing.contentKey(ChunkKind.Leaf, plaintext);
    const bytes = encodeLeaf(aesCtr(key, plaintext));
    return { id: this.hashing.chunkId(bytes), key, size: plaintext.length, bytes };
  }

  sealInternal(children: readonly ChildEntry[]): SealedChunk {
    const plaintext = Buffer.allocUnsafe(children.length * CHILD_ENTRY_BYTES);
    let offset = 0;
    let size = 0;
    for (const child of children) {
      plaintext.set(child.key, offset);
      writeUint64(plaintext, offset + CHUNK_KEY_BYTES, child.size);
      offset += CHILD_ENTRY_BYTES;
      size += child.size;
    }
    const key = this.hashing.contentKey(ChunkKind.Internal, plaintext);
    const bytes = encodeInternal(
      children.map((c) => c.id),
      aesCtr(key, plaintext),
    );
    return { id: this.hashing.chunkId(bytes), key, size, bytes };
  }

  /**
   * Decrypts a leaf. With `verifyKey` the plaintext is re-hashed and must give back the key: that
   * proves the key itself is right. Needed only for a root taken from a reference; any other leaf's
   * key comes from a parent that was verified.
   */
  openLeaf(key: Uint8Array, chunk: ParsedChunk, verifyKey = false): Uint8Array {
    if (chunk.kind !== ChunkKind.Leaf) throw new SchemaError('chunk.kind', 'expected a leaf');
    const plaintext = aesCtr(key, chunk.ciphertext);
    if (verifyKey && !sameBytes(this.hashing.contentKey(ChunkKind.Leaf, plaintext), key)) {
      throw new SchemaError('chunk.key', 'the key does not belong to this chunk');
    }
    return plaintext;
  }

  /** Decrypts an internal chunk into its children; always checks the key (internal chunks are small). */
  openInternal(key: Uint8Array, chunk: ParsedChunk): ChildEntry[] {
    if (chunk.kind !== ChunkKind.Internal) throw new SchemaError('chunk.kind', 'expected an internal chunk');
    const plaintext = aesCtr(key, chunk.ciphertext);
    if (!sameBytes(this.hashing.contentKey(ChunkKind.Internal, plaintext), key)) {
      throw new SchemaError('chunk.key', 'the key does not belong to this chunk');
    }
    return chunk.children.map((id, i) => {
      const offset = i * CHILD_ENTRY_BYTES;
      return {
        id,
        key: plaintext.subarray(offset, offset + CHUNK_KEY_BYTES),
        size: readUint64(plaintext, offset + CHUNK_KEY_BYTES),
      };
    });
  }
}

function writeUint64(buffer: Buffer, offset: number, value: number): void {
  buffer.writeUInt32BE(Math.floor(value / 2 ** 32), offset);
  buffer.writeUInt32BE(value >>> 0, offset + 4);
}

function readUint64(buffer: Buffer, offset: number): number {
  const value = buffer.readUInt32BE(offset) * 2 ** 32 + buffer.readUInt32BE(offset + 4);
  if (!Number.isSafeInteger(value)) throw new SchemaError('chunk.size', 'child size out of range');
  return value;
}
