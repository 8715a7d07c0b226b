import type { Rng } from '@netmachine/overlay';

// A count-min sketch (Cormode and Muthukrishnan) over peer ids: `depth` rows of `width` counters, each
// row indexed by its own hash of the id. An estimate never undercounts; it overcounts by at most
// e·N/width with probability 1 − e^−depth (N the stream's length). The hash seeds come from the node's
// RNG, so a colluder cannot pick ids that collide at every node.

/** Two 32-bit hashes of a string (FNV-1a and a multiply-xorshift), seeded. */
export function hashPair(s: string, seedA: number, seedB: number): [number, number] {
  let a = (0x811c9dc5 ^ seedA) >>> 0;
  let b = (0x9747b28c ^ seedB) >>> 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul((b ^ c) + 0x6d2b79f5, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a ^= a >>> 16;
  a = Math.imul(a, 0x85ebca6b);
  a ^= a >>> 13;
  return [a >>> 0, (b | 1) >>> 0];
}

export class CountMinSketch {
  readonly width: number;
  readonly depth: number;
  readonly #counts: Uint32Array;
  readonly #seedA: number;
  readonly #seedB: number;
  #total = 0;

  constructor(width: number, depth: number, rng: Rng) {
    if (!Number.isInteger(width) || width < 1 || !Number.isInteger(depth) || depth < 1)
      throw new RangeError(
        `count-min sketch needs a positive integer width and depth, got ${width}×${depth}`,
      );
    this.width = width;
    this.depth = depth;
    this.#counts = new Uint32Array(width * depth);
    this.#seedA = rng.nextU32();
    this.#seedB = rng.nextU32();
  }

  /** Items counted so far. */
  get total(): number {
    return this.#total;
  }

  /** Counts one occurrence of `id` and returns its new estimate (one hashing for both). */
  add(id: string): number {
    const [h1, h2] = hashPair(id, this.#seedA, this.#seedB);
    let min = 0xffffffff;
    for (let row = 0; row < this.depth; row++) {
      const slot = row * this.width + (((h1 + Math.imul(row, h2)) >>> 0) % this.width);
      const count = Math.min(0xffffffff, (this.#counts[slot] as number) + 1);
      this.#counts[slot] = count;
      if (count < min) min = count;
    }
    this.#total++;
    return min;
  }

  /** The estimated count of `id` (never below the true count). */
  estimate(id: string): number {
    const [h1, h2] = hashPair(id, this.#seedA, this.#seedB);
    let min = 0xffffffff;
    for (let row = 0; row < this.depth; row++) {
      const count = this.#counts[
        row * this.width + (((h1 + Math.imul(row, h2)) >>> 0) % this.width)
      ] as number;
      if (count < min) min = count;
    }
    return min;
  }
}
