import {
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { chmod, open, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { base32Encode } from './base32.js';
import { InsecureKeyFileError, InvalidIdentityError, InvalidKeyFileError } from './errors.js';
import { type DomainId, KEY_BYTES, type NodeId, type TopicId } from './identity.js';

// DER prefixes that wrap a raw Ed25519 seed / public key as PKCS#8 / SPKI (RFC 8410).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export const SIGNATURE_BYTES = 64;

/** An Ed25519 key pair. Signing uses node:crypto with the KeyObject created once. */
export class KeyPair {
  /** Raw 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** The public key in canonical text form, as the node it identifies (a node's key is the usual use). */
  readonly id: NodeId;
  /** The same text as a topic's identity, for a key that signs a topic's adverts. */
  readonly topicId: TopicId;
  /** The same text as a domain's identity, for a key that signs a domain's adverts. */
  readonly domainId: DomainId;
  readonly #privateKey: KeyObject;
  readonly #seed: Uint8Array;

  private constructor(seed: Uint8Array, privateKey: KeyObject) {
    this.#seed = seed;
    this.#privateKey = privateKey;
    const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    this.publicKey = new Uint8Array(spki.subarray(spki.length - KEY_BYTES));
    const text = base32Encode(this.publicKey);
    this.id = text as NodeId;
    this.topicId = text as TopicId;
    this.domainId = text as DomainId;
  }

  static generate(): KeyPair {
    const { privateKey } = generateKeyPairSync('ed25519');
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    return new KeyPair(new Uint8Array(der.subarray(der.length - KEY_BYTES)), privateKey);
  }

  /** Builds a key pair from its 32-byte seed (the raw private key). */
  static fromSeed(seed: Uint8Array): KeyPair {
    if (!(seed instanceof Uint8Array) || seed.length !== KEY_BYTES) {
      throw new InvalidIdentityError(`an Ed25519 seed must be ${KEY_BYTES} bytes`);
    }
    const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    return new KeyPair(new Uint8Array(seed), key);
  }

  static fromPem(pem: string): KeyPair {
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: pem, format: 'pem' });
    } catch (error) {
      // node:crypto's own errors carry no stable type; callers get one typed error for bad input.
      throw new InvalidIdentityError(
        `not a PEM private key: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (key.asymmetricKeyType !== 'ed25519') throw new InvalidIdentityError('not an Ed25519 private key');
    const der = key.export({ format: 'der', type: 'pkcs8' });
    return new KeyPair(new Uint8Array(der.subarray(der.length - KEY_BYTES)), key);
  }

  sign(data: Uint8Array): Uint8Array {
    return cryptoSign(null, data, this.#privateKey);
  }

  /** The private key as a KeyObject (for TLS certificates); never logged. */
  get privateKeyObject(): KeyObject {
    return this.#privateKey;
  }

  /** PKCS#8 PEM of the private key. */
  toPem(): string {
    return this.#privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  }

  /** The 32-byte seed; handle with care. */
  exportSeed(): Uint8Array {
    return new Uint8Array(this.#seed);
  }

  toJSON(): { publicKey: string } {
    return { publicKey: this.id };
  }
}

/** Public KeyObjects are cached: importing a key on every verify halves the rate. Bounded, oldest evicted. */
const PUBLIC_KEY_CACHE_SIZE = 4096;
const publicKeyCache = new Map<string, KeyObject>();

export function publicKeyObject(publicKey: Uint8Array): KeyObject {
  const cacheKey = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.length).toString('latin1');
  let key = publicKeyCache.get(cacheKey);
  if (key === undefined) {
    if (publicKey.length !== KEY_BYTES)
      throw new InvalidIdentityError(`an Ed25519 public key must be ${KEY_BYTES} bytes`);
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
    if (publicKeyCache.size >= PUBLIC_KEY_CACHE_SIZE) {
      const oldest = publicKeyCache.keys().next().value;
      if (oldest !== undefined) publicKeyCache.delete(oldest);
    }
    publicKeyCache.set(cacheKey, key);
  }
  return key;
}

/** Verifies an Ed25519 signature; false for any malformed key or signature, never throws. */
export function verifySignature(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false;
  try {
    return cryptoVerify(null, data, publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
}

/**
 * Writes a private key as PKCS#8 PEM with mode 0600, atomically (temp file + rename),
 * so a crash never leaves a half-written key.
 */
export async function writeKeyFile(path: string, keyPair: KeyPair): Promise<void> {
  const temp = join(dirname(path), `.${process.pid}.${Date.now()}.key.tmp`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(keyPair.toPem());
    await handle.sync();
  } finally {
    await handle.close();
  }
  await chmod(temp, 0o600);
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}

/** Reads a key file written by `writeKeyFile`; refuses one that group or others may access. */
export async function readKeyFile(path: string): Promise<KeyPair> {
  // Check the file that is actually read (fstat on the open handle), not whatever the path named a moment before.
  const handle = await open(path, 'r');
  let pem: string;
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new InvalidKeyFileError(path, 'not a regular file');
    if ((info.mode & 0o077) !== 0) throw new InsecureKeyFileError(path, info.mode & 0o777);
    pem = await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
  try {
    return KeyPair.fromPem(pem);
  } catch (error) {
    throw new InvalidKeyFileError(path, error instanceof Error ? error.message : String(error));
  }
}
