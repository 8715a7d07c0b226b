import { createCipheriv, createDecipheriv } from 'node:crypto';

const COUNTER_BYTES = 8;
const TAG_BYTES = 16;

/**
 * The end-to-end seal of the `raw-tls-sealed` peer: each message sealed on its own with AES-256-GCM
 * (node:crypto, a cipher per message, as a competent user writes it) under a key both ends share,
 * the nonce a direction byte and a counter sent in clear. This is the AEAD a RelayMessage needs at
 * its two ends, without netmachine's sessions, padding or replay window: with a forwarder in the
 * middle it is the floor under a sealed relay over node:tls.
 */
export class EndToEndSeal {
  readonly #key: Buffer;
  readonly #direction: number;
  #counter = 0n;
  readonly #nonce = Buffer.alloc(12);

  /** `direction`: 0 for the side that dials, 1 for the side that listens (their nonces never meet). */
  constructor(keyHex: string, direction: 0 | 1) {
    this.#key = Buffer.from(keyHex, 'hex');
    if (this.#key.length !== 32) throw new RangeError('the seal key is 32 bytes');
    this.#direction = direction;
  }

  seal(payload: Uint8Array): Buffer {
    const counter = this.#counter++;
    const out = Buffer.allocUnsafe(COUNTER_BYTES + payload.length + TAG_BYTES);
    out.writeBigUInt64BE(counter, 0);
    const cipher = createCipheriv('aes-256-gcm', this.#key, this.#nonceOf(this.#direction, counter), {
      authTagLength: TAG_BYTES,
    });
    let at = COUNTER_BYTES + cipher.update(payload).copy(out, COUNTER_BYTES);
    cipher.final();
    at += cipher.getAuthTag().copy(out, at);
    return out;
  }

  /** The payload of a message the other side sealed; throws when it was not sealed with our key. */
  open(sealed: Uint8Array): Buffer {
    if (sealed.length < COUNTER_BYTES + TAG_BYTES) throw new RangeError('sealed message too short');
    const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.length);
    const counter = bytes.readBigUInt64BE(0);
    const decipher = createDecipheriv('aes-256-gcm', this.#key, this.#nonceOf(1 - this.#direction, counter), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    const payload = decipher.update(bytes.subarray(COUNTER_BYTES, bytes.length - TAG_BYTES));
    decipher.final();
    return payload;
  }

  #nonceOf(direction: number, counter: bigint): Buffer {
    this.#nonce.writeUInt32BE(direction, 0);
    this.#nonce.writeBigUInt64BE(counter, 4);
    return this.#nonce;
  }
}
