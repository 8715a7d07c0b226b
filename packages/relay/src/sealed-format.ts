import { MalformedRelayMessageError } from './errors.js';

/**
 * The byte layout of a sealed RelayMessage (see the README): the header, the AEAD's nonce and
 * additional data, and the records inside the plaintext. Shared by the sealer and the opener so
 * both sides read and write the same offsets; every helper here writes into a caller's scratch
 * buffer, so the per-message path allocates nothing for them.
 */

export const SEALED_VERSION = 3;
/** AES-256-GCM: the AES instructions make it cheaper per byte than ChaCha20-Poly1305 in node:crypto. */
export const CIPHER = 'aes-256-gcm';
export const TAG_BYTES = 16;
export const SESSION_ID_BYTES = 8;

// Byte offsets of the header.
export const OFF_VERSION = 0;
export const OFF_FLAGS = 1;
export const OFF_SESSION = 2;
export const OFF_EPHEMERAL = OFF_SESSION + SESSION_ID_BYTES; // 10
export const OFF_CREATED = OFF_EPHEMERAL + 32; // 42
export const OFF_SIGNATURE = OFF_CREATED + 8; // 50
export const OFF_COUNTER = OFF_SIGNATURE + 64; // 114
/** Bytes before the ciphertext. */
export const SEALED_HEADER_BYTES = OFF_COUNTER + 8; // 122
/** The length prefix of the plaintext (before the inner message and the padding). */
export const LENGTH_BYTES = 4;
/** What sealing adds to the inner message, before padding. */
export const SEALED_OVERHEAD = SEALED_HEADER_BYTES + LENGTH_BYTES + TAG_BYTES;
/** The additional data: the header, both node ids and the expiry. */
export const AAD_BYTES = SEALED_HEADER_BYTES + 64 + 8;

export function writeU64(buffer: Buffer, offset: number, value: number): void {
  buffer.writeUInt32BE(Math.floor(value / 0x1_0000_0000), offset);
  buffer.writeUInt32BE(value >>> 0, offset + 4);
}

export function readU64(buffer: Uint8Array, offset: number): number {
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  return view.getUint32(offset) * 0x1_0000_0000 + view.getUint32(offset + 4);
}

/**
 * The AEAD's additional data: the header, both node ids and the expiry (a relay cannot change
 * them), written into `aad` (a scratch buffer: node:crypto copies it before this returns).
 */
export function additionalData(
  aad: Buffer,
  header: Uint8Array,
  src: Uint8Array,
  dst: Uint8Array,
  expiry: number,
): Buffer {
  aad.set(header.subarray(0, SEALED_HEADER_BYTES), 0);
  aad.set(src, SEALED_HEADER_BYTES);
  aad.set(dst, SEALED_HEADER_BYTES + 32);
  writeU64(aad, SEALED_HEADER_BYTES + 64, expiry);
  return aad;
}

/** The 12-byte nonce, written into the scratch buffer `nonce`. */
export function nonceOf(nonce: Buffer, prefix: Buffer, counter: number): Buffer {
  prefix.copy(nonce, 0);
  writeU64(nonce, 4, counter);
  return nonce;
}

/** Record bounds of the plaintext, kept between calls (reading is synchronous). */
const bounds: number[] = [];

/**
 * Where the records of an opened plaintext lie: `[start, end, start, end, …]` (an array reused by
 * the next call). Reads up to the zero length that starts the padding (the first record is always
 * there, even if empty); a length past the end throws before any record is used.
 */
export function recordBounds(plaintext: Buffer): readonly number[] {
  const out = bounds;
  out.length = 0;
  let at = 0;
  while (at + LENGTH_BYTES <= plaintext.length) {
    const length = plaintext.readUInt32BE(at);
    if (length === 0 && out.length > 0) break;
    at += LENGTH_BYTES;
    if (length > plaintext.length - at) throw new MalformedRelayMessageError('inner length');
    out.push(at, at + length);
    at += length;
  }
  if (out.length === 0) throw new MalformedRelayMessageError('inner length');
  return out;
}
