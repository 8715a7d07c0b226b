// A fast 64-bit trace hash (two 32-bit lanes of a multiply-xorshift mix) over everything that happened,
// in order: same seed, same inputs → same hash. Not cryptographic; it only has to notice any difference.

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

export class TraceHash {
  #h1 = 0x811c9dc5 | 0;
  #h2 = 0x9747b28c | 0;

  /** Mixes one 32-bit integer in. */
  int(x: number): void {
    this.#h1 = Math.imul(this.#h1 ^ x, 0x01000193);
    this.#h2 = Math.imul((this.#h2 ^ x) + 0x6d2b79f5, 0x5bd1e995);
    this.#h2 ^= this.#h2 >>> 15;
  }

  number(x: number): void {
    if (Number.isInteger(x) && x >= -0x80000000 && x <= 0x7fffffff) {
      this.int(x);
      return;
    }
    f64[0] = x;
    this.int(u32[0] as number);
    this.int(u32[1] as number);
  }

  string(s: string): void {
    // The same mixing as `int`, per character, with the state in locals.
    let h1 = Math.imul(this.#h1 ^ s.length, 0x01000193);
    let h2 = Math.imul((this.#h2 ^ s.length) + 0x6d2b79f5, 0x5bd1e995);
    h2 ^= h2 >>> 15;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul((h2 ^ c) + 0x6d2b79f5, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    }
    this.#h1 = h1;
    this.#h2 = h2;
  }

  /** Mixes any plain value in (strings, numbers, booleans, arrays, objects in key order, bytes). */
  value(v: unknown): void {
    switch (typeof v) {
      case 'string':
        this.int(1);
        this.string(v);
        return;
      case 'number':
        this.int(2);
        this.number(v);
        return;
      case 'boolean':
        this.int(v ? 3 : 4);
        return;
      case 'undefined':
        this.int(5);
        return;
      case 'bigint':
        this.int(6);
        this.string(v.toString());
        return;
      case 'object':
        if (v === null) {
          this.int(7);
        } else if (Array.isArray(v)) {
          this.int(8);
          this.int(v.length);
          for (const item of v) this.value(item);
        } else if (v instanceof Uint8Array) {
          this.int(9);
          this.int(v.length);
          for (const byte of v) this.int(byte);
        } else {
          this.int(10);
          for (const key in v) {
            this.string(key);
            this.value((v as Record<string, unknown>)[key]);
          }
        }
        return;
      default:
        this.int(11);
    }
  }

  /** The hash as 16 hex digits. */
  hex(): string {
    const a = (this.#h1 ^ (this.#h2 >>> 7)) >>> 0;
    const b = (this.#h2 ^ Math.imul(this.#h1, 0x27d4eb2d)) >>> 0;
    return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');
  }
}
