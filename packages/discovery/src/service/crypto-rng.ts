import { randomBytes } from 'node:crypto';
import type { Rng } from '@netmachine/overlay';

/**
 * An Rng over node:crypto, for what protects privacy on a real node (BLIP's flips): the seeded
 * generators the machines use are for protocol choices, and predictable.
 */
export class CryptoRng implements Rng {
  #pool = Buffer.alloc(0);
  #offset = 0;

  nextU32(): number {
    if (this.#offset + 4 > this.#pool.length) {
      this.#pool = randomBytes(1024);
      this.#offset = 0;
    }
    const value = this.#pool.readUInt32LE(this.#offset);
    this.#offset += 4;
    return value;
  }

  next(): number {
    return this.nextU32() / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}
