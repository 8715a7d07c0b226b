import {
  expectArray,
  expectBytes,
  expectUint,
  InvalidSignatureError,
  identityBytes,
  KEY_BYTES,
  type KeyPair,
  type NodeId,
  nodeIdFromBytes,
  pack,
  SIGNATURE_BYTES,
  verifySignature,
} from '@netmachine/core';
import { CHUNK_ID_BYTES } from './hashing.js';

/** A node's signed promise to keep a chunk until `expiry` (ms since the epoch). */
export interface ChunkCommitment {
  readonly chunk: Uint8Array;
  readonly node: NodeId;
  readonly expiry: number;
  readonly sig: Uint8Array;
}

// Domain separation: a commitment signature can never pass as any other signed object.
const COMMITMENT_LABEL = 'netmachine/chunk-commitment/v1';

function signedFields(chunk: Uint8Array, node: NodeId, expiry: number): Buffer {
  return pack([COMMITMENT_LABEL, chunk, identityBytes(node), expiry]);
}

export function signCommitment(keyPair: KeyPair, chunk: Uint8Array, expiry: number): ChunkCommitment {
  const node = keyPair.id;
  return { chunk, node, expiry, sig: keyPair.sign(signedFields(chunk, node, expiry)) };
}

/** Throws InvalidSignatureError unless `node` signed this commitment. */
export function verifyCommitment(commitment: ChunkCommitment): ChunkCommitment {
  const payload = signedFields(commitment.chunk, commitment.node, commitment.expiry);
  if (!verifySignature(identityBytes(commitment.node), payload, commitment.sig)) {
    throw new InvalidSignatureError(`chunk commitment of ${commitment.node}`);
  }
  return commitment;
}

/** Wire form: `[chunk, node key, expiry, sig]`. */
export function commitmentToWire(commitment: ChunkCommitment): unknown[] {
  return [commitment.chunk, identityBytes(commitment.node), commitment.expiry, commitment.sig];
}

/** Checks the shape of a wire commitment (not its signature: see verifyCommitment). */
export function commitmentFromWire(value: unknown, path = 'commitment'): ChunkCommitment {
  const v = expectArray(value, path, 4, 4);
  return {
    chunk: expectBytes(v[0], `${path}.chunk`, CHUNK_ID_BYTES),
    node: nodeIdFromBytes(expectBytes(v[1], `${path}.node`, KEY_BYTES)),
    expiry: expectUint(v[2], `${path}.expiry`),
    sig: expectBytes(v[3], `${path}.sig`, SIGNATURE_BYTES),
  };
}
