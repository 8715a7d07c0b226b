import { unpack } from './codec.js';
import { MAX_PROTOCOL_LENGTH } from './message.js';
import { decodeWireMessage, type WireMessage } from './wire.js';

/**
 * Decodes the body of a Message frame. The common shape — the one `FrameSlab` writes: short ASCII
 * names and protocol, integer fields, a byte-array body — is read directly from the bytes, checked
 * as it goes, with no intermediate values. Anything else (other encodings, other bodies, anything
 * wrong) goes through the general decoder, which gives the same result or the same typed error: the
 * direct path only ever accepts what the general one accepts, and returns what it would return.
 */
export function decodeMessageBody(body: Buffer): WireMessage {
  return readDirect(body) ?? decodeWireMessage(unpack(body));
}

/** Engine-name characters: `[A-Za-z0-9._:/-]`. */
const NAME_CHAR = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:/-') {
  NAME_CHAR[c.charCodeAt(0)] = 1;
}

const MAX_NAME = 64;

/** What `toString('latin1', …)` calls, without its argument handling (not in Node's types). */
function latin1(b: Buffer, start: number, end: number): string {
  return (b as unknown as { latin1Slice(start: number, end: number): string }).latin1Slice(start, end);
}
const SIGNATURE_BYTES = 64;

/** Reads the common shape, or returns undefined for the general decoder to handle. */
function readDirect(b: Buffer): WireMessage | undefined {
  const end = b.length;
  if (end < 16 || b[0] !== 0x98) return undefined;
  const r = { pos: 1 };
  const id = readUint(b, r, end);
  if (id < 0) return undefined;
  const srcName = readName(b, r, end);
  if (srcName === undefined) return undefined;
  const dstName = readName(b, r, end);
  if (dstName === undefined) return undefined;
  const replyTo = readOptionalUint(b, r, end);
  if (replyTo === -1) return undefined;
  const expiry = readOptionalUint(b, r, end);
  if (expiry === -1) return undefined;
  const protocol = readProtocol(b, r, end);
  if (protocol === undefined) return undefined;
  const payload = readBin(b, r, end);
  if (payload === undefined) return undefined;
  let sig: Buffer | undefined;
  if (b[r.pos] === 0xc0) r.pos++;
  else {
    sig = readBin(b, r, end);
    if (sig === undefined || sig.length !== SIGNATURE_BYTES) return undefined;
  }
  if (r.pos !== end) return undefined;
  return { id, srcName, dstName, replyTo, expiry, protocol, body: payload, sig };
}

/** nil as undefined, or what `readUint` reads. */
function readOptionalUint(b: Buffer, r: { pos: number }, end: number): number | undefined {
  if (b[r.pos] !== 0xc0) return readUint(b, r, end);
  r.pos++;
  return undefined;
}

/** A non-negative safe integer in any msgpack unsigned form; -1 when it is not one. */
function readUint(b: Buffer, r: { pos: number }, end: number): number {
  const pos = r.pos;
  if (pos >= end) return -1;
  const type = b[pos] as number;
  if (type < 0x80) {
    r.pos = pos + 1;
    return type;
  }
  switch (type) {
    case 0xcc:
      if (pos + 2 > end) return -1;
      r.pos = pos + 2;
      return b[pos + 1] as number;
    case 0xcd:
      if (pos + 3 > end) return -1;
      r.pos = pos + 3;
      return b.readUInt16BE(pos + 1);
    case 0xce:
      if (pos + 5 > end) return -1;
      r.pos = pos + 5;
      return b.readUInt32BE(pos + 1);
    case 0xcf: {
      if (pos + 9 > end) return -1;
      const high = b.readUInt32BE(pos + 1);
      if (high > 0x1fffff) return -1;
      r.pos = pos + 9;
      return high * 0x100000000 + b.readUInt32BE(pos + 5);
    }
    default:
      return -1;
  }
}

/** A fixstr engine name: 1–31 characters of the engine-name alphabet (longer ones take the general path). */
function readName(b: Buffer, r: { pos: number }, end: number): string | undefined {
  const pos = r.pos;
  const type = b[pos] as number;
  if ((type & 0xe0) !== 0xa0) return undefined;
  const length = type & 0x1f;
  const start = pos + 1;
  if (length === 0 || length > MAX_NAME || start + length > end) return undefined;
  for (let i = start; i < start + length; i++) {
    const c = b[i] as number;
    if (c > 0x7f || NAME_CHAR[c] === 0) return undefined;
  }
  r.pos = start + length;
  return latin1(b, start, start + length);
}

/** A fixstr protocol of printable ASCII (1–31 characters). */
function readProtocol(b: Buffer, r: { pos: number }, end: number): string | undefined {
  const pos = r.pos;
  const type = b[pos] as number;
  if ((type & 0xe0) !== 0xa0) return undefined;
  const length = type & 0x1f;
  const start = pos + 1;
  if (length === 0 || length > MAX_PROTOCOL_LENGTH || start + length > end) return undefined;
  for (let i = start; i < start + length; i++) {
    const c = b[i] as number;
    if (c < 0x20 || c > 0x7e) return undefined;
  }
  r.pos = start + length;
  return latin1(b, start, start + length);
}

/** A msgpack `bin`, as a view of `b` (as msgpackr returns it). */
function readBin(b: Buffer, r: { pos: number }, end: number): Buffer | undefined {
  const pos = r.pos;
  let length: number;
  let start: number;
  switch (b[pos]) {
    case 0xc4:
      if (pos + 2 > end) return undefined;
      length = b[pos + 1] as number;
      start = pos + 2;
      break;
    case 0xc5:
      if (pos + 3 > end) return undefined;
      length = b.readUInt16BE(pos + 1);
      start = pos + 3;
      break;
    case 0xc6:
      if (pos + 5 > end) return undefined;
      length = b.readUInt32BE(pos + 1);
      start = pos + 5;
      break;
    default:
      return undefined;
  }
  if (start + length > end) return undefined;
  r.pos = start + length;
  return b.subarray(start, start + length);
}
