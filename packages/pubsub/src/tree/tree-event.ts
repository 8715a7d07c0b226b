import { KEY_BYTES, SIGNATURE_BYTES } from '@netmachine/core';
import { MalformedTreeEventError } from './errors.js';
import { HASH_BYTES, MAX_BATCH, pathLength } from './merkle.js';

// The wire layout of one batch-authenticated event (big-endian, version 1):
//
//   off  size  field
//     0     1  version (1)
//     1    32  topic key
//    33    32  publisher key (the key that signed the batch)
//    65     6  epoch (the publisher's session, u48)
//    71     6  seq (per topic, publisher and epoch, from 1; u48)
//    77     6  expiry (ms since the Unix epoch, u48; 0 = none)
//    83     2  batch size n (1..4096)
//    85     2  leaf index (< n)
//    87     4  payload length L
//    91     L  payload
//  91+L    64  batch signature: Ed25519 over BATCH_CONTEXT ‖ Merkle root
// 155+L  32·d  Merkle path: the d siblings of the leaf, bottom up (d follows from index and n)
//
// The leaf is SHA-256(0x00 ‖ bytes 0 .. 91+L): everything but the signature and the path, so the
// signature covers topic, publisher, epoch, seq, expiry, the batch position and the payload.

export const TREE_EVENT_VERSION = 1;
export const HEADER_BYTES = 91;
/** Signed with the Merkle root: keeps a batch signature from passing for any other signed thing. */
export const BATCH_CONTEXT = Buffer.from('netmachine/pubsub-tree/batch/1\0');
/** Largest payload an event may carry (a frame limit sits above this anyway). */
export const MAX_TREE_PAYLOAD = 1 << 20;
const U48 = 2 ** 48 - 1;

export interface TreeEventFields {
  readonly topic: Uint8Array;
  readonly publisher: Uint8Array;
  readonly epoch: number;
  readonly seq: number;
  /** Milliseconds since the Unix epoch; 0 for none. */
  readonly expiry: number;
  readonly payload: Uint8Array;
}

/**
 * A decoded event over the bytes it came in: the numbers are read at once, the byte fields are views
 * made on first use (a forwarding node that only checks and passes the bytes on never makes them).
 */
export class TreeEvent implements TreeEventFields {
  readonly epoch: number;
  readonly seq: number;
  readonly expiry: number;
  /** Batch size and this event's leaf index in it. */
  readonly size: number;
  readonly index: number;
  /** End of what the leaf hash covers (header and payload); the signature starts here. */
  readonly signedEnd: number;

  constructor(
    readonly bytes: Buffer,
    fields: { epoch: number; seq: number; expiry: number; size: number; index: number; signedEnd: number },
  ) {
    this.epoch = fields.epoch;
    this.seq = fields.seq;
    this.expiry = fields.expiry;
    this.size = fields.size;
    this.index = fields.index;
    this.signedEnd = fields.signedEnd;
  }

  get topic(): Buffer {
    return this.bytes.subarray(1, 33);
  }
  get publisher(): Buffer {
    return this.bytes.subarray(33, 65);
  }
  get payload(): Buffer {
    return this.bytes.subarray(HEADER_BYTES, this.signedEnd);
  }
  /** Bytes 0 .. 91+L: what the leaf hash covers. */
  get signed(): Buffer {
    return this.bytes.subarray(0, this.signedEnd);
  }
  get signature(): Buffer {
    return this.bytes.subarray(this.signedEnd, this.signedEnd + SIGNATURE_BYTES);
  }
  /** Where the Merkle path starts in `bytes` (it runs to the end). */
  get pathStart(): number {
    return this.signedEnd + SIGNATURE_BYTES;
  }
  get path(): Buffer {
    return this.bytes.subarray(this.pathStart);
  }
}

/** Writes the signed part of an event (header and payload) into a fresh buffer with room for sig and path. */
export function encodeSignedPart(fields: TreeEventFields, size: number, index: number): Buffer {
  checkFields(fields);
  const d = pathLength(index, size);
  const L = fields.payload.length;
  const out = Buffer.allocUnsafe(HEADER_BYTES + L + SIGNATURE_BYTES + d * HASH_BYTES);
  out[0] = TREE_EVENT_VERSION;
  out.set(fields.topic, 1);
  out.set(fields.publisher, 33);
  out.writeUIntBE(fields.epoch, 65, 6);
  out.writeUIntBE(fields.seq, 71, 6);
  out.writeUIntBE(fields.expiry, 77, 6);
  out.writeUInt16BE(size, 83);
  out.writeUInt16BE(index, 85);
  out.writeUInt32BE(L, 87);
  out.set(fields.payload, HEADER_BYTES);
  return out;
}

function checkFields(f: TreeEventFields): void {
  if (f.topic.length !== KEY_BYTES || f.publisher.length !== KEY_BYTES)
    throw new RangeError('topic and publisher are 32-byte keys');
  for (const [name, v] of [
    ['epoch', f.epoch],
    ['seq', f.seq],
    ['expiry', f.expiry],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v > U48) throw new RangeError(`${name} must be a u48`);
  }
  if (f.payload.length > MAX_TREE_PAYLOAD) throw new RangeError('payload too large');
}

/** Reads an event's layout (not its authenticity: see BatchVerifier). Throws MalformedTreeEventError. */
export function decodeTreeEvent(input: Uint8Array): TreeEvent {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.length);
  if (bytes.length < HEADER_BYTES + SIGNATURE_BYTES) throw new MalformedTreeEventError('too short');
  if (bytes[0] !== TREE_EVENT_VERSION) throw new MalformedTreeEventError(`version ${bytes[0]}`);
  const size = bytes.readUInt16BE(83);
  const index = bytes.readUInt16BE(85);
  if (size === 0 || size > MAX_BATCH || index >= size) throw new MalformedTreeEventError('batch position');
  const L = bytes.readUInt32BE(87);
  if (L > MAX_TREE_PAYLOAD) throw new MalformedTreeEventError('payload too large');
  const signedEnd = HEADER_BYTES + L;
  const d = pathLength(index, size);
  if (bytes.length !== signedEnd + SIGNATURE_BYTES + d * HASH_BYTES)
    throw new MalformedTreeEventError('length');
  return new TreeEvent(bytes, {
    epoch: bytes.readUIntBE(65, 6),
    seq: bytes.readUIntBE(71, 6),
    expiry: bytes.readUIntBE(77, 6),
    size,
    index,
    signedEnd,
  });
}

/**
 * The event's id in the broadcast tree: topic, publisher, epoch and seq, so one publisher's event
 * number has one id whatever bytes claim it (a replay, or a second signed version, is a duplicate).
 * Keys are shortened to 96 bits: finding a second key with the same prefix costs about 2^96 work.
 * The form is `<source>/<seq>`: PlumTree keeps one tree per source (topic, publisher and epoch).
 */
export function treeEventId(event: Pick<TreeEventFields, 'topic' | 'publisher' | 'epoch' | 'seq'>): string {
  return `${b64(event.topic)}${b64(event.publisher)}.${event.epoch.toString(36)}/${event.seq.toString(36)}`;
}

function b64(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, 12).toString('base64url');
}
