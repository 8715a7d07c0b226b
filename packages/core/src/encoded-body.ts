import { pack, unpack } from './codec.js';

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
      this.#value = unpack(
        this.last === undefined ? this.bytes : Buffer.concat([this.bytes, pack(this.last)]),
      );
      this.#decoded = true;
    }
    return this.#value;
  }
}

/** The body as a plain value: an EncodedBody decoded, anything else as it is. */
export function plainBody(body: unknown): unknown {
  return body instanceof EncodedBody ? body.value : body;
}
