import { unpack } from './codec.js';
import { MAX_UINT_BYTES, writeUint } from './msgpack-writer.js';

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

  /** Bytes on the wire at most. */
  get maxBytes(): number {
    return this.bytes.length + (this.last === undefined ? 0 : MAX_UINT_BYTES);
  }

  /** Writes the encoding at `pos` (room for `maxBytes` made by the caller); returns the end. */
  write(buf: Buffer, pos: number): number {
    buf.set(this.bytes, pos);
    const end = pos + this.bytes.length;
    return this.last === undefined ? end : writeUint(buf, end, this.last);
  }

  /** The value the bytes encode (throws MalformedFrameError when they are not one msgpack value). */
  get value(): unknown {
    if (!this.#decoded) {
      const whole = Buffer.allocUnsafe(this.maxBytes);
      this.#value = unpack(whole.subarray(0, this.write(whole, 0)));
      this.#decoded = true;
    }
    return this.#value;
  }
}

/** The body as a plain value: an EncodedBody decoded, anything else as it is. */
export function plainBody(body: unknown): unknown {
  return body instanceof EncodedBody ? body.value : body;
}
