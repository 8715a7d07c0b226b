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

/** A UTF-8 string. Short ASCII strings (engine names, protocols) are copied by hand: no native call. */
export function writeString(buf: Buffer, pos: number, s: string): number {
  const length = s.length;
  if (length < 32) {
    let i = 0;
    for (; i < length; i++) {
      const code = s.charCodeAt(i);
      if (code > 0x7f) break;
      buf[pos + 1 + i] = code;
    }
    if (i === length) {
      buf[pos] = 0xa0 | length;
      return pos + 1 + length;
    }
  }
  const bytes = Buffer.byteLength(s, 'utf8');
  if (bytes < 32) {
    buf[pos] = 0xa0 | bytes;
    pos += 1;
  } else if (bytes < 0x100) {
    buf[pos] = 0xd9;
    buf[pos + 1] = bytes;
    pos += 2;
  } else if (bytes < 0x10000) {
    buf[pos] = 0xda;
    buf.writeUInt16BE(bytes, pos + 1);
    pos += 3;
  } else {
    buf[pos] = 0xdb;
    buf.writeUInt32BE(bytes, pos + 1);
    pos += 5;
  }
  return pos + buf.write(s, pos, bytes, 'utf8');
}

/** A byte array as msgpack `bin`. */
export function writeBin(buf: Buffer, pos: number, bytes: Uint8Array): number {
  const length = bytes.length;
  if (length < 0x100) {
    buf[pos] = 0xc4;
    buf[pos + 1] = length;
    pos += 2;
  } else if (length < 0x10000) {
    buf[pos] = 0xc5;
    buf.writeUInt16BE(length, pos + 1);
    pos += 3;
  } else {
    buf[pos] = 0xc6;
    buf.writeUInt32BE(length, pos + 1);
    pos += 5;
  }
  buf.set(bytes, pos);
  return pos + length;
}
