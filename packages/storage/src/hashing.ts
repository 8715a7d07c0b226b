import { base32Encode } from '@netmachine/core';
import { blake3 } from '@noble/hashes/blake3.js';
import { createBLAKE3, type IHasher } from 'hash-wasm';

/** Length of a chunk id and of a chunk key: a 256-bit BLAKE3 digest. */
export const CHUNK_ID_BYTES = 32;
export const CHUNK_KEY_BYTES = 32;

/** Domain-separation label for the convergence key (see `Hashing.create`). */
const CONVERGENCE_LABEL = new TextEncoder().encode('netmachine/storage/convergence/v1');

let plainHasher: Promise<IHasher> | undefined;

/** Which BLAKE3 implementation a `Hashing` runs. */
export type Blake3Implementation = 'native' | 'wasm';

/** One BLAKE3 implementation: a plain hash, and a keyed one under the convergence key. */
interface Blake3 {
  readonly implementation: Blake3Implementation;
  chunkId(stored: Uint8Array): Uint8Array;
  contentKey(kind: number, plaintext: Uint8Array): Uint8Array;
}

type NativeBlake3 = typeof import('@napi-rs/blake-hash');
let nativeModule: Promise<NativeBlake3 | undefined> | undefined;

/** The native binding, or undefined where no build of it loads (the WebAssembly one is used then). */
function loadNative(): Promise<NativeBlake3 | undefined> {
  nativeModule ??= import('@napi-rs/blake-hash').then(
    (module) => module,
    () => undefined,
  );
  return nativeModule;
}

async function wasmBlake3(convergenceKey: Uint8Array): Promise<Blake3> {
  plainHasher ??= createBLAKE3(256);
  const plain = await plainHasher;
  const keyed = await createBLAKE3(256, convergenceKey);
  return {
    implementation: 'wasm',
    chunkId(stored) {
      plain.init();
      plain.update(stored);
      return plain.digest('binary');
    },
    contentKey(kind, plaintext) {
      keyed.init();
      keyed.update(new Uint8Array([kind]));
      keyed.update(plaintext);
      return keyed.digest('binary');
    },
  };
}

function nativeBlake3(native: NativeBlake3, convergenceKey: Uint8Array): Blake3 {
  const keyed = native.Blake3Hasher.newKeyed(Buffer.from(convergenceKey));
  const kindByte = new Uint8Array(1);
  return {
    implementation: 'native',
    // Hashes the caller's bytes where they are (no copy into a WebAssembly memory).
    chunkId: (stored) => native.blake3(stored),
    contentKey(kind, plaintext) {
      keyed.reset(); // back to the keyed initial state
      kindByte[0] = kind;
      keyed.update(kindByte);
      keyed.update(plaintext);
      return keyed.digestBuffer();
    },
  };
}

/**
 * BLAKE3 for chunk ids and convergent keys. Every stored byte is hashed twice on put and once on
 * every chunk fetched or read locally, so this is the storage hot path. The native build (SIMD,
 * through @napi-rs/blake-hash's prebuilt binaries) hashes 64 MiB in about 15 ms of CPU here, the
 * WebAssembly build (hash-wasm) in about 90 ms and pure JavaScript in over a second; where no
 * native binary loads, the WebAssembly build is used. Tests check all of them give the same digests.
 * The hashers are synchronous once loaded; `create` loads them.
 */
export class Hashing {
  readonly #blake3: Blake3;

  private constructor(blake3: Blake3) {
    this.#blake3 = blake3;
  }

  /**
   * `convergenceSecret` scopes deduplication: only writers holding the same secret produce the same
   * chunks for the same content. Without it (the default) everyone converges, which maximises
   * deduplication but lets anyone confirm whether a store holds a file they already know.
   * `implementation: 'wasm'` uses the WebAssembly build even where the native one loads.
   */
  static async create(
    convergenceSecret: Uint8Array = new Uint8Array(0),
    implementation?: Blake3Implementation,
  ): Promise<Hashing> {
    const keyMaterial = new Uint8Array(CONVERGENCE_LABEL.length + convergenceSecret.length);
    keyMaterial.set(CONVERGENCE_LABEL, 0);
    keyMaterial.set(convergenceSecret, CONVERGENCE_LABEL.length);
    const convergenceKey = blake3(keyMaterial);
    const native = implementation === 'wasm' ? undefined : await loadNative();
    return new Hashing(
      native === undefined ? await wasmBlake3(convergenceKey) : nativeBlake3(native, convergenceKey),
    );
  }

  /** The BLAKE3 build in use. */
  get implementation(): Blake3Implementation {
    return this.#blake3.implementation;
  }

  /** The chunk id: BLAKE3 of the stored (encrypted) bytes. */
  chunkId(stored: Uint8Array): Uint8Array {
    return this.#blake3.chunkId(stored);
  }

  /** The convergent key of a chunk: keyed BLAKE3 over its kind byte and plaintext. */
  contentKey(kind: number, plaintext: Uint8Array): Uint8Array {
    return this.#blake3.contentKey(kind, plaintext);
  }
}

/** Canonical text of a chunk id (lower-case base32, like node ids), for logs, errors and map keys. */
export function chunkIdText(id: Uint8Array): string {
  return base32Encode(id);
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
