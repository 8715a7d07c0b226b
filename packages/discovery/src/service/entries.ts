import {
  identityBytes,
  isKeyText,
  type KeyPair,
  type NodeId,
  SIGNATURE_BYTES,
  verifySignature,
} from '@netmachine/core';

// A sampling entry on a real node is signed by the node it names: the signature binds the peer id to
// its domain filter and the time it was issued, so nobody can push an entry for a node that did not
// publish it, or dress a node in another filter. The entry's `signature` field carries
// issued (u64 big-endian, ms) ‖ Ed25519 signature; the entry's age is gossip state and is not signed.

const TAG = new TextEncoder().encode('netmachine/discovery-entry/1\0');
const ISSUED_BYTES = 8;

/** Bytes of an entry's `signature` field: the issue time and the Ed25519 signature. */
export const ENTRY_SIGNATURE_BYTES = ISSUED_BYTES + SIGNATURE_BYTES;

function signedBytes(peer: NodeId, issued: Uint8Array, filter: Uint8Array): Uint8Array {
  const key = identityBytes(peer);
  const out = new Uint8Array(TAG.length + key.length + ISSUED_BYTES + filter.length);
  out.set(TAG, 0);
  out.set(key, TAG.length);
  out.set(issued, TAG.length + key.length);
  out.set(filter, TAG.length + key.length + ISSUED_BYTES);
  return out;
}

/** The `signature` field of this node's entry for `filter`, issued at `issued` (ms). */
export function signEntry(key: KeyPair, filter: Uint8Array, issued: number): Uint8Array {
  const time = new Uint8Array(ISSUED_BYTES);
  new DataView(time.buffer).setBigUint64(0, BigInt(Math.floor(issued)));
  const sig = key.sign(signedBytes(key.id, time, filter));
  const out = new Uint8Array(ENTRY_SIGNATURE_BYTES);
  out.set(time, 0);
  out.set(sig, ISSUED_BYTES);
  return out;
}

/** When the entry was issued (ms), or undefined when the field is not an entry signature. */
export function entryIssued(signature: Uint8Array): number | undefined {
  if (signature.length !== ENTRY_SIGNATURE_BYTES) return undefined;
  return Number(new DataView(signature.buffer, signature.byteOffset, ISSUED_BYTES).getBigUint64(0));
}

/**
 * True when `signature` is `peer`'s own signature over `filter`, issued no later than `notAfter`
 * (clock skew allowed by the caller). Never throws: a peer id that is not a node key is simply false.
 */
export function verifyEntry(
  entry: { readonly peer: string; readonly filter: Uint8Array; readonly signature: Uint8Array },
  notAfter: number,
): boolean {
  const issued = entryIssued(entry.signature);
  if (issued === undefined || issued > notAfter || !isKeyText(entry.peer)) return false;
  try {
    return verifySignature(
      identityBytes(entry.peer as NodeId),
      signedBytes(entry.peer as NodeId, entry.signature.subarray(0, ISSUED_BYTES), entry.filter),
      entry.signature.subarray(ISSUED_BYTES),
    );
  } catch {
    return false;
  }
}
