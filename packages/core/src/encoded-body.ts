import { unpack } from './codec.js';

/**
 * A message body handed over as msgpack bytes already encoded: the link encoder copies them as they
 * are instead of encoding a value. A publisher sending one event to many nodes encodes it once.
 *
 * `last`, when given, is one more array element written after the bytes: `bytes` is then an array
 * whose header already counts it (e.g. `[...fields, n]` with a per-link number `n`), so each link
 * shares the same bytes and adds only its number.
 *
 * Wherever the value itself is needed (a local engine, a signature, another encoding) it is decoded
 * once, on first use; see `plainBody`.
 */
export class EncodedBody {
  readonly bytes: Uint8Array;
  readonly last: number | undefined;
  #value: unknown;
  #decoded = false;

  /** The bytes must not change afterwards; `last` is a non-negative safe integer. */
  constructor(bytes: Uint8Array, last?: number) {
    this.bytes = bytes;
    this.last = last;
  }

  /** The value the bytes encode (throws MalformedFrameError when they are not one msgpack value). */
  get value(): unknown {
    if (!this.#decoded) {
      if (this.last === undefined) this.#value = unpack(this.bytes);
      else {
        const whole = Buffer.allocUnsafe(this.bytes.length + 9);
        whole.set(this.bytes, 0);
        this.#value = unpack(whole.subarray(0, writeUint(whole, this.bytes.length, this.last)));
      }
      this.#decoded = true;
    }
    return this.#value;
  }
}

/** The body as a plain value: an EncodedBody decoded, anything else as it is. */
export function plainBody(body: unknown): unknown {
  return body instanceof EncodedBody ? body.value : body;
}

/**
 * A non-negative safe integer as msgpack, in its shortest form, at `pos`; returns the end. The one
 * msgpack write core needs (the Transport's writer, which encodes whole frames, has its own).
 */
function writeUint(buf: Buffer, pos: number, value: number): number {
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
    buf.writeUInt16BE(value, pos + 1);
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
