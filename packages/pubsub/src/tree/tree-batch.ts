import { KEY_BYTES, type KeyPair, SIGNATURE_BYTES, verifySignature } from '@netmachine/core';
import { batchDigest } from './batch-digest.js';
import { MalformedTreeEventError } from './errors.js';

// The wire layout of one signed batch: one PlumTree message (big-endian, version 3):
//
//   off  size  field
//     0     1  version (3)
//     1    32  topic key
//    33    32  publisher key (the key that signed the batch)
//    65     6  epoch (the publisher's session, u48)
//    71     6  batch number (per topic, publisher and epoch, from 1; u48)
//    77     6  seq of the first event (the others follow it by one; u48)
//    83     2  event count n (1..MAX_BATCH_EVENTS)
//    85        n events, each:  6 expiry (ms since the Unix epoch, u48; 0 = none)
//                               4 payload length L
//                               L payload
//   end-64 64  signature: Ed25519 by the publisher over BLAKE3-derive-key(BATCH_CONTEXT, bytes 0 .. end-64)
//
// A forwarding node checks the layout, the topic, the publisher and one signature, then passes the
// bytes on as they came: nothing is re-encoded per event or per hop.

export const TREE_BATCH_VERSION = 3;
export const BATCH_HEADER_BYTES = 85;
const EVENT_HEADER_BYTES = 10;
/** Most events under one signature. */
export const MAX_BATCH_EVENTS = 4096;
/** Largest payload an event may carry (a batch must also fit PlumTree's payload limit). */
export const MAX_TREE_PAYLOAD = 1 << 19;
const U48 = 2 ** 48 - 1;

/** One event to sign: its seq is given by its place in the batch. */
export interface UnsignedEvent {
  /** Milliseconds since the Unix epoch; 0 for none. */
  readonly expiry: number;
  readonly payload: Uint8Array;
}

export interface UnsignedBatch {
  readonly topic: Uint8Array;
  readonly epoch: number;
  /** The batch's number in its stream (topic, publisher, epoch), from 1. */
  readonly batch: number;
  /** The seq of the first event. */
  readonly firstSeq: number;
  readonly events: readonly UnsignedEvent[];
}

/** One event read out of a batch: its payload is a view of the batch's bytes. */
export interface TreeEvent {
  readonly epoch: number;
  readonly seq: number;
  readonly expiry: number;
  readonly payload: Buffer;
}

/**
 * A decoded batch over the bytes it came in: the header is read at once, the events when asked for
 * (a forwarding node that only checks and passes the bytes on never reads them one by one).
 */
export class TreeBatch {
  /** For the stream receiver: a batch is the unit of ordering, its number its `seq`. */
  readonly seq: number;
  /** The latest expiry of its events (0 when any has none): a batch past it holds nothing live. */
  readonly expiry: number;
  /** The earliest expiry of its events (0 when none has one): before it, every event is live. */
  readonly minExpiry: number;

  constructor(
    readonly bytes: Buffer,
    readonly epoch: number,
    batch: number,
    readonly firstSeq: number,
    readonly count: number,
    expiry: number,
    minExpiry = 0,
  ) {
    this.seq = batch;
    this.expiry = expiry;
    this.minExpiry = minExpiry;
  }

  get topic(): Buffer {
    return this.bytes.subarray(1, 33);
  }
  get publisher(): Buffer {
    return this.bytes.subarray(33, 33 + KEY_BYTES);
  }
  /** Where the signature starts: everything before it is signed. */
  get signedEnd(): number {
    return this.bytes.length - SIGNATURE_BYTES;
  }
  get signature(): Buffer {
    return this.bytes.subarray(this.signedEnd);
  }

  /**
   * Calls `fn` with each event's fields, in order (no object per event: the caller makes its own).
   * Each payload is a plain Uint8Array view (a third of the cost of a Buffer view per event).
   */
  forEach(fn: (payload: Uint8Array, seq: number, expiry: number) => void): void {
    const bytes = this.bytes;
    const memory = bytes.buffer;
    const base = bytes.byteOffset;
    let at = BATCH_HEADER_BYTES;
    const firstSeq = this.firstSeq;
    for (let i = 0; i < this.count; i++) {
      const expiry = readU48(bytes, at);
      const length = bytes.readUInt32BE(at + 6);
      at += EVENT_HEADER_BYTES;
      fn(new Uint8Array(memory, base + at, length), firstSeq + i, expiry);
      at += length;
    }
  }

  events(): TreeEvent[] {
    const out: TreeEvent[] = [];
    this.forEach((payload, seq, expiry) => {
      out.push({
        epoch: this.epoch,
        seq,
        expiry,
        payload: Buffer.from(payload.buffer, payload.byteOffset, payload.length),
      });
    });
    return out;
  }
}

/** Encodes and signs a batch: one Ed25519 signature over all of it. */
export function signTreeBatch(
  key: KeyPair,
  batch: UnsignedBatch,
  allocate: (size: number) => Buffer = Buffer.allocUnsafe,
): Buffer {
  const n = batch.events.length;
  if (n === 0 || n > MAX_BATCH_EVENTS) throw new RangeError(`batch of ${n} events`);
  if (batch.topic.length !== KEY_BYTES) throw new RangeError('the topic is a 32-byte key');
  checkU48('epoch', batch.epoch);
  checkU48('batch', batch.batch);
  checkU48('firstSeq', batch.firstSeq);
  checkU48('last seq', batch.firstSeq + n - 1);
  let size = BATCH_HEADER_BYTES + SIGNATURE_BYTES;
  for (const event of batch.events) {
    checkU48('expiry', event.expiry);
    if (event.payload.length > MAX_TREE_PAYLOAD) throw new RangeError('payload too large');
    size += EVENT_HEADER_BYTES + event.payload.length;
  }
  const out = allocate(size);
  out[0] = TREE_BATCH_VERSION;
  out.set(batch.topic, 1);
  out.set(key.publicKey, 33);
  out.writeUIntBE(batch.epoch, 65, 6);
  out.writeUIntBE(batch.batch, 71, 6);
  out.writeUIntBE(batch.firstSeq, 77, 6);
  out.writeUInt16BE(n, 83);
  let at = BATCH_HEADER_BYTES;
  for (const event of batch.events) {
    out.writeUIntBE(event.expiry, at, 6);
    out.writeUInt32BE(event.payload.length, at + 6);
    out.set(event.payload, at + EVENT_HEADER_BYTES);
    at += EVENT_HEADER_BYTES + event.payload.length;
  }
  out.set(key.sign(batchDigest(out.subarray(0, at))), at);
  return out;
}

/** Bytes an event adds to a batch (to keep batches under a size limit). */
export function encodedEventBytes(payloadLength: number): number {
  return EVENT_HEADER_BYTES + payloadLength;
}

/** Reads a batch's layout (not its authenticity: see `verifyTreeBatch`). Throws MalformedTreeEventError. */
export function decodeTreeBatch(input: Uint8Array): TreeBatch {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.length);
  if (bytes.length < BATCH_HEADER_BYTES + EVENT_HEADER_BYTES + SIGNATURE_BYTES)
    throw new MalformedTreeEventError('too short');
  if (bytes[0] !== TREE_BATCH_VERSION) throw new MalformedTreeEventError(`version ${bytes[0]}`);
  const count = bytes.readUInt16BE(83);
  if (count === 0 || count > MAX_BATCH_EVENTS) throw new MalformedTreeEventError('event count');
  const firstSeq = bytes.readUIntBE(77, 6);
  if (firstSeq + count - 1 > U48) throw new MalformedTreeEventError('seq');
  const end = bytes.length - SIGNATURE_BYTES;
  let at = BATCH_HEADER_BYTES;
  let expiry = 0;
  let minExpiry = Number.POSITIVE_INFINITY;
  let anyForever = false;
  for (let i = 0; i < count; i++) {
    if (at + EVENT_HEADER_BYTES > end) throw new MalformedTreeEventError('length');
    const e = readU48(bytes, at);
    if (e === 0) anyForever = true;
    else {
      if (e > expiry) expiry = e;
      if (e < minExpiry) minExpiry = e;
    }
    at += EVENT_HEADER_BYTES + bytes.readUInt32BE(at + 6);
  }
  if (at !== end) throw new MalformedTreeEventError('length');
  return new TreeBatch(
    bytes,
    bytes.readUIntBE(65, 6),
    bytes.readUIntBE(71, 6),
    firstSeq,
    count,
    anyForever ? 0 : expiry,
    minExpiry === Number.POSITIVE_INFINITY ? 0 : minExpiry,
  );
}

/** A big-endian u48 (two reads: `readUIntBE(at, 6)` is several times slower on the per-event walk). */
function readU48(bytes: Buffer, at: number): number {
  return bytes.readUInt16BE(at) * 0x1_0000_0000 + bytes.readUInt32BE(at + 2);
}

/** Whether the batch's signature is its publisher's over all of its bytes. */
export function verifyTreeBatch(batch: TreeBatch): boolean {
  return verifySignature(
    batch.publisher,
    batchDigest(batch.bytes.subarray(0, batch.signedEnd)),
    batch.signature,
  );
}

/**
 * The batch's id in the broadcast tree: topic, publisher, epoch and batch number, so one publisher's
 * batch number has one id whatever bytes claim it (a replay, or a second signed version, is a duplicate).
 * Keys are shortened to 96 bits: finding a second key with the same prefix costs about 2^96 work.
 * The form is `<source>/<batch>`: PlumTree keeps one tree per source (topic, publisher and epoch).
 */
export function treeBatchId(
  batch: Pick<TreeBatch, 'topic' | 'publisher' | 'epoch' | 'seq'> | TreeBatchKey,
): string {
  return `${treeSource(batch.topic, batch.publisher, batch.epoch)}/${batch.seq.toString(36)}`;
}

/** What names a batch: its stream (topic, publisher, epoch) and its number (`seq`). */
export interface TreeBatchKey {
  readonly topic: Uint8Array;
  readonly publisher: Uint8Array;
  readonly epoch: number;
  readonly seq: number;
}

/** The tree source of a stream: shortened topic and publisher keys and the epoch. */
export function treeSource(topic: Uint8Array, publisher: Uint8Array, epoch: number): string {
  return `${b64(topic)}${b64(publisher)}.${epoch.toString(36)}`;
}

function b64(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, 12).toString('base64url');
}

function checkU48(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > U48) throw new RangeError(`${name} must be a u48`);
}
