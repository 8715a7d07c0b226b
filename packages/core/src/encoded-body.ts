import { unpack } from './codec.js';

/**
 * A message body handed over as msgpack bytes already encoded: the link encoder copies them as they
 * are instead of encoding a value. A publisher sending one event to many nodes encodes it once.
 * Wherever the value itself is needed (a local engine, a signature, another encoding) it is decoded
 * once, on first use; see `plainBody`.
 */
export class EncodedBody {
  readonly bytes: Uint8Array;
  #value: unknown;
  #decoded = false;

  /** `bytes` must be exactly one msgpack value, and must not change afterwards. */
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /** The value the bytes encode (throws MalformedFrameError when they are not one msgpack value). */
  get value(): unknown {
    if (!this.#decoded) {
      this.#value = unpack(this.bytes);
      this.#decoded = true;
    }
    return this.#value;
  }
}

/** The body as a plain value: an EncodedBody decoded, anything else as it is. */
export function plainBody(body: unknown): unknown {
  return body instanceof EncodedBody ? body.value : body;
}
