import {
  EncodedBody,
  type EngineMessage,
  FrameTooLargeError,
  isTopicAddress,
  pack,
  SchemaError,
} from '@netmachine/core';
import { FRAME_HEADER_BYTES } from './frame-codec.js';
import { FrameTag } from './frames.js';
import {
  MAX_HEADER_BYTES,
  MAX_UINT_BYTES,
  maxStringBytes,
  plainBound,
  writeBin,
  writeNil,
  writePlain,
  writeString,
  writeUint,
} from './msgpack-writer.js';
import { MIN_SLAB_BYTES, type SlabPool } from './slab-pool.js';

const EMPTY = Buffer.alloc(0);

/**
 * What a slab from a pool owes before it may go back: the parts cut from it that are pending or
 * handed out and not yet released, and whether its writer has moved on from it. Keyed by the slab's
 * ArrayBuffer (every pooled slab has its own), so a part finds its slab, and an entry whose parts are
 * never released (a connection that does not say when it is done) goes with the slab to the GC.
 */
interface SlabUse {
  readonly slab: Buffer;
  readonly pool: SlabPool;
  parts: number;
  retired: boolean;
}
const slabUses = new WeakMap<ArrayBufferLike, SlabUse>();

/** Bytes of a msgpack array header of 8 elements, and of a signature as `bin 8`. */
const ENVELOPE_FIXED_BYTES = 1 + 3 * MAX_UINT_BYTES + 2 + 64;

/**
 * Outgoing frames, encoded straight into large slabs. A Message frame is written field by field into
 * the slab (no intermediate array, msgpack buffer or frame buffer per message); other frames are
 * copied in. `take` hands out what was written since the last take as one buffer that is never
 * written again, so a connection may keep it without copying. A full slab is left to its readers
 * and a new one started: a stream of small frames costs one allocation per slab. Slabs start small
 * and double while they fill up, so an idle connection holds a few KiB, a busy one `slabBytes`.
 *
 * With a `pool`, slabs come from it and go back to it once every part cut from them has been given
 * back with `releasePart` (the connection is done with those bytes) and the writer has moved on to
 * another slab. A part never released keeps its slab out of the pool: it is then simply left to the
 * GC, as without a pool. Without a pool every slab is allocated and left to the GC.
 */
export class FrameSlab {
  readonly #slabBytes: number;
  #slab: Buffer = EMPTY;
  /** Size of the last slab allocated (of normal size): the next is twice it, up to `slabBytes`. */
  #lastSize = 0;
  /** Start of what has not been taken yet, and the end of what has been written. */
  #start = 0;
  #end = 0;
  /** Slices of earlier slabs not taken yet, in order. */
  #full: Buffer[] = [];
  #fullBytes = 0;
  readonly #pool: SlabPool | undefined;
  /** The current slab's record (with a pool). */
  #use: SlabUse | undefined;

  constructor(slabBytes = 64 * 1024, pool?: SlabPool) {
    this.#slabBytes = slabBytes;
    this.#pool = pool;
  }

  /** Bytes written and not yet taken. */
  get pendingBytes(): number {
    return this.#fullBytes + this.#end - this.#start;
  }

  /** Appends a complete frame (header included). */
  appendFrame(frame: Uint8Array): void {
    this.#reserve(frame.length);
    this.#slab.set(frame, this.#end);
    this.#end += frame.length;
  }

  /** Appends a complete frame given as two parts (`head` begins with the header): one frame, never split. */
  appendFrameParts(head: Uint8Array, tail: Uint8Array): void {
    this.#reserve(head.length + tail.length);
    this.#slab.set(head, this.#end);
    this.#slab.set(tail, this.#end + head.length);
    this.#end += head.length + tail.length;
  }

  /**
   * Appends `message` as a Message frame: `[id, srcName, dstName, replyTo, expiry, protocol, body,
   * sig]` (see `messageToWire`), for a link whose peer is `message.dst.node` and whose local node is
   * `message.src.node`. Throws a typed error, and appends nothing, when the message cannot be sent:
   * a topic destination, a field that is not a non-negative integer, or a frame over `maxFrameSize`.
   * Returns the frame's size on the wire.
   */
  appendMessage(message: EngineMessage, maxFrameSize: number): number {
    const dst = message.dst;
    if (isTopicAddress(dst)) throw new SchemaError('message.dst', 'a topic message is not sent on a link');
    checkUint(message.id, 'message.id');
    if (message.replyTo !== undefined) checkUint(message.replyTo, 'message.replyTo');
    if (message.expiry !== undefined) checkUint(message.expiry, 'message.expiry');
    const body = message.body;
    let encoded: EncodedBody | undefined;
    let packed: Buffer | undefined;
    let bodyBound: number;
    if (body instanceof Uint8Array) {
      // The common body, bytes: its size is known exactly.
      if (body.length > maxFrameSize) throw new FrameTooLargeError(body.length, maxFrameSize);
      bodyBound = MAX_HEADER_BYTES + body.length;
    } else {
      // Plain bodies (strings, numbers, arrays of these) are written directly; an EncodedBody is
      // msgpack already; anything else goes through msgpackr, which knows every JavaScript value.
      encoded = body instanceof EncodedBody ? body : undefined;
      const plain = encoded !== undefined ? -1 : plainBound(body);
      packed = plain >= 0 || encoded !== undefined ? undefined : pack(body);
      bodyBound =
        encoded !== undefined ? encodedBound(encoded) : packed !== undefined ? packed.length : plain;
      // Certainly too large (a size known exactly): refused before any room is made for it.
      const known = encoded !== undefined ? encoded.bytes.length : packed !== undefined ? packed.length : 0;
      if (known > maxFrameSize) throw new FrameTooLargeError(known, maxFrameSize);
    }
    const bound =
      FRAME_HEADER_BYTES +
      ENVELOPE_FIXED_BYTES +
      maxStringBytes(message.src.name) +
      maxStringBytes(dst.name) +
      maxStringBytes(message.protocol) +
      bodyBound;
    this.#reserve(bound);
    const buf = this.#slab;
    const start = this.#end;
    let pos = start + FRAME_HEADER_BYTES;
    buf[pos++] = 0x98;
    pos = writeUint(buf, pos, message.id);
    pos = writeString(buf, pos, message.src.name);
    pos = writeString(buf, pos, dst.name);
    pos = message.replyTo === undefined ? writeNil(buf, pos) : writeUint(buf, pos, message.replyTo);
    pos = message.expiry === undefined ? writeNil(buf, pos) : writeUint(buf, pos, message.expiry);
    pos = writeString(buf, pos, message.protocol);
    if (body instanceof Uint8Array) pos = writeBin(buf, pos, body);
    else if (encoded !== undefined) pos = writeEncoded(buf, pos, encoded);
    else if (packed !== undefined) {
      buf.set(packed, pos);
      pos += packed.length;
    } else pos = writePlain(buf, pos, body);
    pos = message.sig === undefined ? writeNil(buf, pos) : writeBin(buf, pos, message.sig);
    // A body that changed between measuring and writing (a getter) could overrun the room made.
    if (pos > start + bound) throw new SchemaError('message.body', 'changed while it was encoded');
    const length = pos - start - 4;
    if (length > maxFrameSize) throw new FrameTooLargeError(length, maxFrameSize);
    buf[start] = length >>> 24;
    buf[start + 1] = length >>> 16;
    buf[start + 2] = length >>> 8;
    buf[start + 3] = length;
    buf[start + 4] = FrameTag.Message;
    this.#end = pos;
    return pos - start;
  }

  /**
   * Everything appended since the last take, as one buffer (undefined when nothing is pending). Parts
   * joined into a new buffer are released at once; a lone part is handed out as it is and never
   * released (with a pool, its slab is then left to the GC).
   */
  take(): Buffer | undefined {
    const parts = this.takeParts();
    if (parts.length <= 1) return parts[0];
    let bytes = 0;
    for (const part of parts) bytes += part.length;
    const joined = Buffer.concat(parts, bytes);
    for (const part of parts) this.releasePart(part);
    return joined;
  }

  /**
   * Everything appended since the last take, in order, as the slabs hold it (no copy): a frame is
   * never split between two parts. The parts are never written again until released (`releasePart`).
   */
  takeParts(): Buffer[] {
    const current = this.#end > this.#start ? this.#slab.subarray(this.#start, this.#end) : undefined;
    if (current !== undefined && this.#use !== undefined) this.#use.parts++;
    this.#start = this.#end;
    // A slab with no room left, or one sized for a single large frame, is not kept for later.
    if (this.#slab.length - this.#end < 256 || this.#slab.length > this.#slabBytes) this.#release();
    const parts = this.#full;
    if (current !== undefined) parts.push(current);
    this.#full = [];
    this.#fullBytes = 0;
    return parts;
  }

  /**
   * Gives back a part from `takeParts` once nothing refers to its bytes any more (the socket has
   * sent them, or copied them): its slab goes back to the pool when it was the last. At most once per
   * part; does nothing for a part of a slab not from a pool.
   */
  releasePart(part: Uint8Array): void {
    const use = slabUses.get(part.buffer);
    if (use === undefined) return;
    use.parts--;
    if (use.parts === 0 && use.retired) recycle(use);
  }

  /** Drops everything not yet taken, and the slab. */
  clear(): void {
    for (const part of this.#full) this.releasePart(part);
    this.#full = [];
    this.#fullBytes = 0;
    this.#release();
  }

  #release(): void {
    this.#retire();
    this.#slab = EMPTY;
    this.#start = 0;
    this.#end = 0;
  }

  /** The writer is done with the current slab: it goes back once its parts have. */
  #retire(): void {
    const use = this.#use;
    if (use === undefined) return;
    this.#use = undefined;
    use.retired = true;
    if (use.parts === 0) recycle(use);
  }

  /** Makes room for `bytes` more at `#end`, starting a new slab when the current one is too full. */
  #reserve(bytes: number): void {
    if (this.#end + bytes <= this.#slab.length) return;
    if (this.#end > this.#start) {
      const rest = this.#slab.subarray(this.#start, this.#end);
      this.#full.push(rest);
      this.#fullBytes += rest.length;
      if (this.#use !== undefined) this.#use.parts++;
    }
    this.#retire();
    // Twice the last slab, up to the full size; a frame larger than that gets a slab of its own size.
    const next = Math.min(this.#slabBytes, Math.max(MIN_SLAB_BYTES, 2 * this.#lastSize));
    if (bytes <= next) this.#lastSize = next;
    const pool = this.#pool;
    if (pool === undefined) this.#slab = Buffer.allocUnsafe(Math.max(next, bytes));
    else {
      const slab = pool.acquire(Math.max(next, bytes));
      const use: SlabUse = { slab, pool, parts: 0, retired: false };
      slabUses.set(slab.buffer, use);
      this.#use = use;
      this.#slab = slab;
    }
    this.#start = 0;
    this.#end = 0;
  }
}

function recycle(use: SlabUse): void {
  slabUses.delete(use.slab.buffer);
  use.pool.recycle(use.slab);
}

function checkUint(value: number, path: string): void {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new SchemaError(path, 'expected a non-negative integer');
}

/** Most bytes `writeEncoded` writes for `body`. */
function encodedBound(body: EncodedBody): number {
  return body.bytes.length + (body.last === undefined ? 0 : MAX_UINT_BYTES);
}

/** Writes an EncodedBody's bytes, then its `last` element if any; returns the end. */
function writeEncoded(buf: Buffer, pos: number, body: EncodedBody): number {
  buf.set(body.bytes, pos);
  const end = pos + body.bytes.length;
  return body.last === undefined ? end : writeUint(buf, end, body.last);
}
