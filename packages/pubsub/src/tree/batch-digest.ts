import { createRequire } from 'node:module';
import { blake3 } from '@noble/hashes/blake3.js';

/**
 * The context of the batch digest (BLAKE3 in derive-key mode): keeps a batch signature from passing
 * for any other signed thing, and names the layout version.
 */
export const BATCH_CONTEXT = 'netmachine/pubsub-tree/batch/3';
const CONTEXT_BYTES = new TextEncoder().encode(BATCH_CONTEXT);

type NativeBlake = typeof import('@napi-rs/blake-hash');
type NativeHasher = InstanceType<NativeBlake['Blake3Hasher']>;

/** The native BLAKE3 (about 2.5 times the speed of SHA-256 here), or undefined where no build of it loads. */
function nativeHasher(): NativeHasher | undefined {
  try {
    const native = createRequire(import.meta.url)('@napi-rs/blake-hash') as NativeBlake;
    return native.Blake3Hasher.newDeriveKey(BATCH_CONTEXT);
  } catch {
    return undefined;
  }
}

// One hasher, reset per digest (reset keeps its context): digests are computed one at a time.
const hasher = nativeHasher();

/** BLAKE3 (derive-key mode, context `BATCH_CONTEXT`) of a batch's signed bytes: what its signature signs. */
export function batchDigest(signed: Uint8Array): Uint8Array {
  if (hasher === undefined) return blake3(signed, { context: CONTEXT_BYTES });
  hasher.reset();
  hasher.update(signed);
  return hasher.digestBuffer();
}

/** Which implementation `batchDigest` runs (the JavaScript one gives the same digests, slower). */
export const batchDigestImplementation: 'native' | 'js' = hasher === undefined ? 'js' : 'native';

/** The JavaScript implementation, for tests: must agree with the native one. */
export function batchDigestJs(signed: Uint8Array): Uint8Array {
  return blake3(signed, { context: CONTEXT_BYTES });
}
