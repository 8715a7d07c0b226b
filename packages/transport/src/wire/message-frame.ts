import {
  type EngineMessage,
  expectPlainValue,
  MAX_BODY_DEPTH,
  MAX_PROTOCOL_LENGTH,
  unpack,
} from '@netmachine/core';
import { decodeWireMessage, messageFromWire, type WireMessage } from './frames.js';
import type { LinkAddresses } from './link-addresses.js';
import { NOT_DIRECT, RecentStrings, readPlainDirect } from './plain-reader.js';

/**
 * Decodes the body of a Message frame. The common shape — the one `FrameSlab` writes: short ASCII
 * names and protocol, integer fields, a plain body (bytes, ASCII strings, numbers, arrays of these) —
 * is read directly from the bytes, checked as it goes. Other bodies are decoded by msgpackr from their
 * own bytes; anything else (other encodings, anything wrong) goes through the general decoder, which
 * gives the same result or the same typed error: the direct path only ever accepts what the general
 * one accepts, and returns what it would return.
 */
export function decodeMessageBody(body: Buffer): WireMessage {
  if (!readDirect(body, 0, body.length)) return decodeWireMessage(unpack(body));
  const f = fields;
  const wire: WireMessage = {
    id: f.id,
    srcName: f.srcName,
    dstName: f.dstName,
    replyTo: f.replyTo,
    expiry: f.expiry,
    protocol: f.protocol,
    body: f.body,
    sig: f.sig,
  };
  f.body = undefined;
  f.sig = undefined;
  return wire;
}

/**
 * The message a link received as the Message frame body `b[start, end)`: what
 * `messageFromWire(decodeMessageBody(body), peer, local)` gives (or the same typed error), built
 * without the intermediate wire object, without a view of the frame, and with the link's address
 * objects (`addresses`) instead of two new ones per message. Its shape is the one the router gives the
 * messages it makes (`prefs` included), so the code that handles both sees one shape.
 */
export function decodeMessageAt(
  b: Buffer,
  start: number,
  end: number,
  addresses: LinkAddresses,
): EngineMessage {
  if (!readDirect(b, start, end)) {
    const wire = decodeWireMessage(unpack(b.subarray(start, end)));
    return messageFromWire(wire, addresses.peer, addresses.local);
  }
  const f = fields;
  const message: EngineMessage = {
    id: f.id,
    src: addresses.src(f.srcName),
    dst: addresses.dst(f.dstName),
    replyTo: f.replyTo,
    expiry: f.expiry,
    prefs: undefined,
    protocol: f.protocol,
    body: f.body,
    sig: f.sig,
  };
  f.body = undefined;
  f.sig = undefined;
  return message;
}

/** What `readDirect` read last: decoding is synchronous, so one record serves every call. */
const fields: {
  id: number;
  srcName: string;
  dstName: string;
  replyTo: number | undefined;
  expiry: number | undefined;
  protocol: string;
  body: unknown;
  sig: Uint8Array | undefined;
} = {
  id: 0,
  srcName: '',
  dstName: '',
  replyTo: undefined,
  expiry: undefined,
  protocol: '',
  body: undefined,
  sig: undefined,
};

/** The read position of `readDirect` (one, for the same reason). */
const cursor = { pos: 0 };

/** Engine-name characters: `[A-Za-z0-9._:/-]`. */
const NAME_CHAR = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:/-') {
  NAME_CHAR[c.charCodeAt(0)] = 1;
}

const MAX_NAME = 64;

const SIGNATURE_BYTES = 64;

/** Engine names and protocols recently read: the same few arrive on every message of a link. */
const names = new RecentStrings(16);
const protocols = new RecentStrings(16);

/**
 * Reads the common shape from `b[start, end)` into `fields` and returns true, or returns false for
 * the general decoder to handle.
 */
function readDirect(b: Buffer, start: number, end: number): boolean {
  if (end - start < 16 || b[start] !== 0x98) return false;
  const r = cursor;
  r.pos = start + 1;
  const id = readUint(b, r, end);
  if (id < 0) return false;
  const srcName = readName(b, r, end);
  if (srcName === undefined) return false;
  const dstName = readName(b, r, end);
  if (dstName === undefined) return false;
  const replyTo = readOptionalUint(b, r, end);
  if (replyTo === -1) return false;
  const expiry = readOptionalUint(b, r, end);
  if (expiry === -1) return false;
  const protocol = readProtocol(b, r, end);
  if (protocol === undefined) return false;
  // Common bodies are read directly (a byte array is a view of the frame); any other is read by
  // msgpackr from its own bytes, once the rest of the frame has been checked.
  const bodyStart = r.pos;
  let payload: unknown = readPlainDirect(b, r, end, MAX_BODY_DEPTH);
  if (payload === NOT_DIRECT) {
    payload = undefined;
    r.pos = skipValue(b, bodyStart, end, 0);
    if (r.pos < 0) return false;
  }
  const bodyEnd = r.pos;
  const sig = readPlainDirect(b, r, end, 0);
  if (sig !== null && (!(sig instanceof Uint8Array) || sig.length !== SIGNATURE_BYTES)) return false;
  if (r.pos !== end) return false;
  if (payload === undefined) {
    payload = readPlain(b.subarray(bodyStart, bodyEnd));
    if (payload === NOT_PLAIN) return false;
  }
  const f = fields;
  f.id = id;
  f.srcName = srcName;
  f.dstName = dstName;
  f.replyTo = replyTo;
  f.expiry = expiry;
  f.protocol = protocol;
  f.body = payload;
  f.sig = sig ?? undefined;
  return true;
}

const NOT_PLAIN = Symbol('not plain');

/** A body as msgpackr decodes it, if it is a plain value (else the general decoder says why not). */
function readPlain(bytes: Buffer): unknown {
  try {
    return expectPlainValue(unpack(bytes), 'message.body', MAX_BODY_DEPTH, Number.MAX_SAFE_INTEGER);
  } catch {
    return NOT_PLAIN;
  }
}

/** Fixed sizes (type byte included) of the msgpack types 0xc0–0xdf; 0 where the size is in the data. */
const FIXED_SIZE = new Uint8Array(32);
for (const [type, size] of [
  [0xc0, 1],
  [0xc2, 1],
  [0xc3, 1],
  [0xca, 5],
  [0xcb, 9],
  [0xcc, 2],
  [0xcd, 3],
  [0xce, 5],
  [0xcf, 9],
  [0xd0, 2],
  [0xd1, 3],
  [0xd2, 5],
  [0xd3, 9],
  [0xd4, 3],
  [0xd5, 4],
  [0xd6, 6],
  [0xd7, 10],
  [0xd8, 18],
] as const) {
  FIXED_SIZE[type - 0xc0] = size;
}

/**
 * The position after the msgpack value at `pos`, or -1 when it is cut short, nests deeper than a
 * body may, or uses the reserved type 0xc1.
 */
function skipValue(b: Buffer, pos: number, end: number, depth: number): number {
  if (pos >= end || depth > MAX_BODY_DEPTH) return -1;
  const type = b[pos] as number;
  let next: number;
  let items = 0;
  if (type < 0x80 || type >= 0xe0) return pos + 1;
  if (type < 0x90) {
    items = 2 * (type & 0x0f);
    next = pos + 1;
  } else if (type < 0xa0) {
    items = type & 0x0f;
    next = pos + 1;
  } else if (type < 0xc0) next = pos + 1 + (type & 0x1f);
  else if (FIXED_SIZE[type - 0xc0] !== 0) next = pos + (FIXED_SIZE[type - 0xc0] as number);
  else {
    switch (type) {
      case 0xc4:
      case 0xd9:
        if (pos + 2 > end) return -1;
        next = pos + 2 + (b[pos + 1] as number);
        break;
      case 0xc5:
      case 0xda:
        if (pos + 3 > end) return -1;
        next = pos + 3 + b.readUInt16BE(pos + 1);
        break;
      case 0xc6:
      case 0xdb:
        if (pos + 5 > end) return -1;
        next = pos + 5 + b.readUInt32BE(pos + 1);
        break;
      case 0xc7:
        if (pos + 3 > end) return -1;
        next = pos + 3 + (b[pos + 1] as number);
        break;
      case 0xc8:
        if (pos + 4 > end) return -1;
        next = pos + 4 + b.readUInt16BE(pos + 1);
        break;
      case 0xc9:
        if (pos + 6 > end) return -1;
        next = pos + 6 + b.readUInt32BE(pos + 1);
        break;
      case 0xdc:
      case 0xde:
        if (pos + 3 > end) return -1;
        items = b.readUInt16BE(pos + 1) * (type === 0xde ? 2 : 1);
        next = pos + 3;
        break;
      case 0xdd:
      case 0xdf:
        if (pos + 5 > end) return -1;
        items = b.readUInt32BE(pos + 1) * (type === 0xdf ? 2 : 1);
        next = pos + 5;
        break;
      default:
        return -1; // 0xc1: never used
    }
  }
  for (let i = 0; i < items && next >= 0; i++) next = skipValue(b, next, end, depth + 1);
  return next > end ? -1 : next;
}

/** nil as undefined, or what `readUint` reads. */
function readOptionalUint(b: Buffer, r: { pos: number }, end: number): number | undefined {
  if (b[r.pos] !== 0xc0) return readUint(b, r, end);
  r.pos++;
  return undefined;
}

/** A non-negative safe integer (in any number encoding the reader reads); -1 otherwise. */
function readUint(b: Buffer, r: { pos: number }, end: number): number {
  const value = readPlainDirect(b, r, end, 0);
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : -1;
}

/** A fixstr engine name: 1–31 characters of the engine-name alphabet (longer ones take the general path). */
function readName(b: Buffer, r: { pos: number }, end: number): string | undefined {
  const pos = r.pos;
  const type = b[pos] as number;
  if ((type & 0xe0) !== 0xa0) return undefined;
  const length = type & 0x1f;
  const start = pos + 1;
  if (length === 0 || length > MAX_NAME || start + length > end) return undefined;
  r.pos = start + length;
  const known = names.find(b, start, length);
  if (known !== undefined) return known;
  for (let i = start; i < start + length; i++) {
    const c = b[i] as number;
    if (c > 0x7f || NAME_CHAR[c] === 0) return undefined;
  }
  return names.keep(b, start, length);
}

/** A fixstr protocol of printable ASCII (1–31 characters). */
function readProtocol(b: Buffer, r: { pos: number }, end: number): string | undefined {
  const pos = r.pos;
  const type = b[pos] as number;
  if ((type & 0xe0) !== 0xa0) return undefined;
  const length = type & 0x1f;
  const start = pos + 1;
  if (length === 0 || length > MAX_PROTOCOL_LENGTH || start + length > end) return undefined;
  r.pos = start + length;
  const known = protocols.find(b, start, length);
  if (known !== undefined) return known;
  for (let i = start; i < start + length; i++) {
    const c = b[i] as number;
    if (c < 0x20 || c > 0x7e) return undefined;
  }
  return protocols.keep(b, start, length);
}
