import { base32Encode } from '@netmachine/core';
import { blake3 } from '@noble/hashes/blake3.js';
import { createBLAKE3, type IHasher } from 'hash-wasm';

/** Length of a chunk id and of a chunk key: a 256-bit BLAKE3 digest. */
export const CHUNK_ID_BYTES = 32;
export const CHUNK_KEY_BYTES = 32;

/** Domain-separation label for the convergence key (see `Hashing.create`). */
const CONVERGENCE_LABEL = new TextEncoder().encode('netmachine/storage/convergence/v1');

let plainHasher: Promise<IHasher> | undefined;

/**
 * BLAKE3 for chunk ids and convergent keys. The WebAssembly build runs at roughly 20x the speed of
 * the pure-JS one (about 800 MB/s against 40 MB/s here), and every stored byte is hashed at
 * least twice on put and once on every read, so this is the storage hot path.
 * The hashers are synchronous once loaded; `create` loads them.
 */
export class Hashing {
  readonly #plain: IHasher;
  readonly #keyed: IHasher;

  private constructor(plain: IHasher, keyed: IHasher) {
    this.#plain = plain;
    this.#keyed = keyed;
  }

  /**
   * `convergenceSecret` scopes deduplication: only writers holding the same secret produce the same
   * chunks for the same content. Without it (the default) everyone converges, which maximises
   * deduplication but lets anyone confirm whether a store holds a file they already know.
   */
  static async create(convergenceSecret: Uint8Array = new Uint8Array(0)): Promise<Hashing> {
    plainHasher ??= createBLAKE3(256);
    const plain = await plainHasher;
    const keyMaterial = new Uint8Array(CONVERGENCE_LABEL.length + convergenceSecret.length);
    keyMaterial.set(CONVERGENCE_LABEL, 0);
    keyMaterial.set(convergenceSecret, CONVERGENCE_LABEL.length);
    const keyed = await createBLAKE3(256, blake3(keyMaterial));
    return new Hashing(plain, keyed);
  }

  /** The chunk id: BLAKE3 of the stored (encrypted) bytes. */
  chunkId(stored: Uint8Array): Uint8Array {
    this.#plain.init();
    this.#plain.update(stored);
    return this.#plain.digest('binary');
  }

  /** The convergent key of a chunk: keyed BLAKE3 over its kind byte and plaintext. */
  contentKey(kind: number, plaintext: Uint8Array): Uint8Array {
    this.#keyed.init();
    this.#keyed.update(new Uint8Array([kind]));
    this.#keyed.update(plaintext);
    return this.#keyed.digest('binary');
  }
}

/** Canonical text of a chunk id (lower-case base32, like node ids), for logs, errors and map keys. */
export function chunkIdText(id: Uint8Array): string {
  return base32Encode(id);
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
