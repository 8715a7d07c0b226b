import { pack } from '@netmachine/core';

/**
 * The few msgpack writes the message hot path needs, straight into a caller's buffer. Each takes
 * the position to write at and returns the position after; the caller has made room (see the
 * `MAX_*` bounds). The bytes are plain msgpack that msgpackr (or any decoder) reads.
 */

/** Most bytes `writeUint` writes. */
export const MAX_UINT_BYTES = 9;
/** Most header bytes before a string's or a byte array's content. */
export const MAX_HEADER_BYTES = 5;

export function writeNil(buf: Buffer, pos: number): number {
  buf[pos] = 0xc0;
  return pos + 1;
}

/** A non-negative safe integer, in its shortest form. */
export function writeUint(buf: Buffer, pos: number, value: number): number {
  if (value < 0x80) {
    buf[pos] = value;
    return pos + 1;
  }
  if (value < 0x100) {
    buf[pos] = 0xcc;
    buf[pos + 1] = value;
    return pos + 2;
  }
  if (value < 0x10000) {
    buf[pos] = 0xcd;
    buf[pos + 1] = value >>> 8;
    buf[pos + 2] = value & 0xff;
    return pos + 3;
  }
  if (value < 0x100000000) {
    buf[pos] = 0xce;
    buf.writeUInt32BE(value, pos + 1);
    return pos + 5;
  }
  buf[pos] = 0xcf;
  buf.writeUInt32BE(Math.floor(value / 0x100000000), pos + 1);
  buf.writeUInt32BE(value >>> 0, pos + 5);
  return pos + 9;
}

/** Most bytes `writeString` writes for `s`. */
export function maxStringBytes(s: string): number {
  return MAX_HEADER_BYTES + 3 * s.length;
}

/** A UTF-8 string. ASCII strings under 256 characters (names, identities) are copied by hand: no native call. */
export function writeString(buf: Buffer, pos: number, s: string): number {
  const length = s.length;
  if (length < 0x100) {
    const header = length < 32 ? 1 : 2;
    let i = 0;
    for (; i < length; i++) {
      const code = s.charCodeAt(i);
      if (code > 0x7f) break;
      buf[pos + header + i] = code;
    }
    if (i === length) {
      if (header === 1) buf[pos] = 0xa0 | length;
      else {
        buf[pos] = 0xd9;
        buf[pos + 1] = length;
      }
      return pos + header + length;
    }
  }
  const bytes = Buffer.byteLength(s, 'utf8');
  if (bytes < 32) buf[pos++] = 0xa0 | bytes;
  else pos = writeLength(buf, pos, bytes, 0xd9);
  return pos + buf.write(s, pos, bytes, 'utf8');
}

/** A byte array as msgpack `bin`. */
export function writeBin(buf: Buffer, pos: number, bytes: Uint8Array): number {
  pos = writeLength(buf, pos, bytes.length, 0xc4);
  buf.set(bytes, pos);
  return pos + bytes.length;
}

/** The 8-, 16- or 32-bit length header of a str or bin; `type8` is the 8-bit type (16 and 32 follow it). */
function writeLength(buf: Buffer, pos: number, length: number, type8: number): number {
  if (length < 0x100) {
    buf[pos] = type8;
    buf[pos + 1] = length;
    return pos + 2;
  }
  if (length < 0x10000) {
    buf[pos] = type8 + 1;
    buf.writeUInt16BE(length, pos + 1);
    return pos + 3;
  }
  buf[pos] = type8 + 2;
  buf.writeUInt32BE(length, pos + 1);
  return pos + 5;
}

/** Bytes of a float64: a number that is not a safe integer. */
const FLOAT_BYTES = 9;

/**
 * Most bytes `writePlain` writes for `value`, or -1 when `value` holds something it does not write
 * (class instances, maps, undefined, bigint, …: those go through msgpackr). Plain objects (a protocol
 * message such as `{ type, id, payload, hops }`) are written as msgpack maps, the form msgpackr gives
 * them: a large byte array inside one is then copied once, into the frame, not first into a msgpack
 * buffer of its own.
 */
export function plainBound(value: unknown, depth = 0): number {
  switch (typeof value) {
    case 'string':
      return maxStringBytes(value);
    case 'number':
      return FLOAT_BYTES;
    case 'boolean':
      return 1;
    case 'object': {
      if (value === null) return 1;
      if (value instanceof Uint8Array) return MAX_HEADER_BYTES + value.length;
      if (depth >= 64) return -1;
      if (!Array.isArray(value)) return isPlainObject(value) ? objectBound(value, depth) : -1;
      let total = MAX_HEADER_BYTES;
      for (const item of value) {
        const bound = plainBound(item, depth + 1);
        if (bound < 0) return -1;
        total += bound;
      }
      return total;
    }
    default:
      return -1;
  }
}

/** Writes a value `plainBound` accepted (the caller has made `plainBound(value)` bytes of room). */
export function writePlain(buf: Buffer, pos: number, value: unknown): number {
  switch (typeof value) {
    case 'string':
      return writeString(buf, pos, value);
    case 'number':
      return writeNumber(buf, pos, value);
    case 'boolean':
      buf[pos] = value ? 0xc3 : 0xc2;
      return pos + 1;
    default: {
      if (value === null) return writeNil(buf, pos);
      if (value instanceof Uint8Array) return writeBin(buf, pos, value);
      if (!Array.isArray(value)) return writeObject(buf, pos, value as Record<string, unknown>);
      const items = value as unknown[];
      const count = items.length;
      if (count < 16) buf[pos++] = 0x90 | count;
      else if (count < 0x10000) {
        buf[pos] = 0xdc;
        buf.writeUInt16BE(count, pos + 1);
        pos += 3;
      } else {
        buf[pos] = 0xdd;
        buf.writeUInt32BE(count, pos + 1);
        pos += 5;
      }
      for (const item of items) pos = writePlain(buf, pos, item);
      return pos;
    }
  }
}

/** An object literal (or one made with a null prototype): its own enumerable string keys are all it holds. */
function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function objectBound(value: Record<string, unknown>, depth: number): number {
  let total = MAX_HEADER_BYTES;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) return -1;
    const bound = plainBound(value[key], depth + 1);
    if (bound < 0) return -1;
    total += maxStringBytes(key) + bound;
  }
  return total;
}

/** A plain object as a msgpack map of its keys, in order (as msgpackr writes it). */
function writeObject(buf: Buffer, pos: number, value: Record<string, unknown>): number {
  const keys = Object.keys(value);
  const count = keys.length;
  if (count < 16) buf[pos++] = 0x80 | count;
  else if (count < 0x10000) {
    buf[pos] = 0xde;
    buf.writeUInt16BE(count, pos + 1);
    pos += 3;
  } else {
    buf[pos] = 0xdf;
    buf.writeUInt32BE(count, pos + 1);
    pos += 5;
  }
  for (const key of keys) {
    pos = writeString(buf, pos, key);
    pos = writePlain(buf, pos, value[key]);
  }
  return pos;
}

/** Integers in their shortest form; anything else (fractions, beyond safe) as float64. */
export function writeNumber(buf: Buffer, pos: number, value: number): number {
  if (Number.isSafeInteger(value)) {
    if (value >= 0) return writeUint(buf, pos, value);
    if (value >= -32) {
      buf[pos] = value & 0xff;
      return pos + 1;
    }
    if (value >= -0x80) {
      buf[pos] = 0xd0;
      buf.writeInt8(value, pos + 1);
      return pos + 2;
    }
    if (value >= -0x8000) {
      buf[pos] = 0xd1;
      buf.writeInt16BE(value, pos + 1);
      return pos + 3;
    }
    if (value >= -0x80000000) {
      buf[pos] = 0xd2;
      buf.writeInt32BE(value, pos + 1);
      return pos + 5;
    }
  }
  buf[pos] = 0xcb;
  buf.writeDoubleBE(value, pos + 1);
  return pos + 9;
}

/** `value` as msgpack: written directly when `plainBound` accepts it, by msgpackr otherwise. */
export function packPlain(value: unknown): Buffer {
  const bound = plainBound(value);
  if (bound < 0) return pack(value);
  const buf = Buffer.allocUnsafe(bound);
  return buf.subarray(0, writePlain(buf, 0, value));
}
