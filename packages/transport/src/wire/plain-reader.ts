/**
 * Reads the plain msgpack values message bodies are usually made of — nil, booleans, integers,
 * float64, ASCII strings, byte arrays and arrays of these — straight from the bytes, producing
 * exactly what msgpackr produces for them. Anything else (maps, non-ASCII strings, float32, ext
 * types, int64, nesting past the limit, bytes cut short) is left to msgpackr: the reader returns
 * `NOT_DIRECT` and the caller decodes the value the general way.
 *
 * Short strings are interned: the same topic, node and engine names arrive in every event, and the
 * same string object makes every later map lookup and comparison of them cheap.
 */

export const NOT_DIRECT: unique symbol = Symbol('not direct');

/** A read position, advanced by the reader. */
export interface Cursor {
  pos: number;
}

const MAX_INTERNED = 64;

/**
 * Strings recently read from bytes, by a hash of the bytes: a set of two slots per hash, the newer
 * first, so two names that hash alike (`bench-tx-0`, `bench-rx-0`: the hash reads only a few bytes)
 * do not evict each other on every message. Comparing a few bytes costs less than making a new
 * string, and the same string object makes later map lookups and comparisons cheap. Only strings the
 * caller checked are kept, so a byte-equal find is a checked string too (keep one instance per
 * alphabet checked).
 */
export class RecentStrings {
  readonly #slots: (string | undefined)[];
  readonly #mask: number;

  /** `sets`: a power of two; the cache holds twice as many strings. */
  constructor(sets: number) {
    this.#slots = new Array(sets * 2).fill(undefined);
    this.#mask = sets - 1;
  }

  #set(b: Buffer, start: number, length: number): number {
    const middle = b[start + (length >>> 1)] as number;
    const hash = length * 31 + (b[start] as number) * 7 + middle * 3 + (b[start + length - 1] as number);
    return (hash & this.#mask) << 1;
  }

  /** The string whose bytes these are (1 byte or more), if it was kept recently. */
  find(b: Buffer, start: number, length: number): string | undefined {
    const set = this.#set(b, start, length);
    const newer = this.#slots[set];
    if (newer !== undefined && sameBytes(newer, b, start, length)) return newer;
    const older = this.#slots[set + 1];
    if (older !== undefined && sameBytes(older, b, start, length)) return older;
    return undefined;
  }

  /** Decodes and remembers ASCII bytes the caller has checked. */
  keep(b: Buffer, start: number, length: number): string {
    const s = latin1(b, start, start + length);
    const set = this.#set(b, start, length);
    this.#slots[set + 1] = this.#slots[set];
    this.#slots[set] = s;
    return s;
  }
}

function sameBytes(s: string, b: Buffer, start: number, length: number): boolean {
  if (s.length !== length) return false;
  for (let i = 0; i < length; i++) if (s.charCodeAt(i) !== b[start + i]) return false;
  return true;
}

const interned = new RecentStrings(256);

/** What `toString('latin1', …)` calls, without its argument handling (not in Node's types). */
export function latin1(b: Buffer, start: number, end: number): string {
  return (b as unknown as { latin1Slice(start: number, end: number): string }).latin1Slice(start, end);
}

/** Reads one value at `r.pos` (advancing it), or returns NOT_DIRECT (position then unspecified). */
export function readPlainDirect(b: Buffer, r: Cursor, end: number, maxDepth: number): unknown {
  const pos = r.pos;
  if (pos >= end) return NOT_DIRECT;
  const type = b[pos] as number;
  if (type < 0x80) {
    r.pos = pos + 1;
    return type;
  }
  if (type >= 0xe0) {
    r.pos = pos + 1;
    return type - 0x100;
  }
  if (type >= 0x90 && type < 0xa0) return readArray(b, r, pos + 1, type & 0x0f, end, maxDepth);
  if (type >= 0xa0 && type < 0xc0) return readAscii(b, r, pos + 1, type & 0x1f, end);
  switch (type) {
    case 0xc0:
      r.pos = pos + 1;
      return null;
    case 0xc2:
      r.pos = pos + 1;
      return false;
    case 0xc3:
      r.pos = pos + 1;
      return true;
    case 0xc4:
      return pos + 2 > end ? NOT_DIRECT : readBytes(b, r, pos + 2, b[pos + 1] as number, end);
    case 0xc5:
      return pos + 3 > end ? NOT_DIRECT : readBytes(b, r, pos + 3, b.readUInt16BE(pos + 1), end);
    case 0xc6:
      return pos + 5 > end ? NOT_DIRECT : readBytes(b, r, pos + 5, b.readUInt32BE(pos + 1), end);
    case 0xcb:
      if (pos + 9 > end) return NOT_DIRECT;
      r.pos = pos + 9;
      return b.readDoubleBE(pos + 1);
    case 0xcc:
      if (pos + 2 > end) return NOT_DIRECT;
      r.pos = pos + 2;
      return b[pos + 1];
    case 0xcd:
      if (pos + 3 > end) return NOT_DIRECT;
      r.pos = pos + 3;
      return b.readUInt16BE(pos + 1);
    case 0xce:
      if (pos + 5 > end) return NOT_DIRECT;
      r.pos = pos + 5;
      return b.readUInt32BE(pos + 1);
    case 0xcf: {
      // uint64, in the safe range only (beyond it msgpackr's rounding decides).
      if (pos + 9 > end) return NOT_DIRECT;
      const high = b.readUInt32BE(pos + 1);
      if (high > 0x1fffff) return NOT_DIRECT;
      r.pos = pos + 9;
      return high * 0x100000000 + b.readUInt32BE(pos + 5);
    }
    case 0xd0:
      if (pos + 2 > end) return NOT_DIRECT;
      r.pos = pos + 2;
      return b.readInt8(pos + 1);
    case 0xd1:
      if (pos + 3 > end) return NOT_DIRECT;
      r.pos = pos + 3;
      return b.readInt16BE(pos + 1);
    case 0xd2:
      if (pos + 5 > end) return NOT_DIRECT;
      r.pos = pos + 5;
      return b.readInt32BE(pos + 1);
    case 0xd9:
      return pos + 2 > end ? NOT_DIRECT : readAscii(b, r, pos + 2, b[pos + 1] as number, end);
    case 0xdc:
      return pos + 3 > end ? NOT_DIRECT : readArray(b, r, pos + 3, b.readUInt16BE(pos + 1), end, maxDepth);
    default:
      return NOT_DIRECT;
  }
}

function readArray(
  b: Buffer,
  r: Cursor,
  start: number,
  count: number,
  end: number,
  maxDepth: number,
): unknown {
  // Each element takes at least one byte: a count the bytes cannot hold is cut short.
  if (maxDepth <= 0 || start + count > end) return NOT_DIRECT;
  const items: unknown[] = new Array(count);
  r.pos = start;
  for (let i = 0; i < count; i++) {
    const item = readPlainDirect(b, r, end, maxDepth - 1);
    if (item === NOT_DIRECT) return NOT_DIRECT;
    items[i] = item;
  }
  return items;
}

function readAscii(b: Buffer, r: Cursor, start: number, length: number, end: number): unknown {
  const stop = start + length;
  if (stop > end) return NOT_DIRECT;
  r.pos = stop;
  if (length === 0) return '';
  const known = length <= MAX_INTERNED ? interned.find(b, start, length) : undefined;
  if (known !== undefined) return known;
  for (let i = start; i < stop; i++) if ((b[i] as number) > 0x7f) return NOT_DIRECT;
  return length <= MAX_INTERNED ? interned.keep(b, start, length) : latin1(b, start, stop);
}

function readBytes(b: Buffer, r: Cursor, start: number, length: number, end: number): unknown {
  if (start + length > end) return NOT_DIRECT;
  r.pos = start + length;
  return b.subarray(start, start + length);
}
