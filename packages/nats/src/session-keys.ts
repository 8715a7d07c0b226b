import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { type NodeId, pack, SchemaError } from '@netmachine/core';

/**
 * Session keys for what crosses the broker once a process is attached. The attach handshake is
 * signed with Ed25519 both ways and carries an ephemeral X25519 key from each side; from their
 * shared secret both derive pairwise keys. After that, every message carries an HMAC-SHA256 tag
 * instead of a signature: a few microseconds instead of a signature and a verification
 * (tens to hundreds of microseconds each). See the README's "Authentication" for the threat model.
 */

export const DH_KEY_BYTES = 32;
export const SECRET_BYTES = 32;
export const TAG_BYTES = 32;
const IV_BYTES = 12;
const GCM_TAG_BYTES = 16;
/** A wrapped group key: IV, ciphertext, GCM tag. */
export const WRAPPED_KEY_BYTES = IV_BYTES + SECRET_BYTES + GCM_TAG_BYTES;

const KEYS_LABEL = 'netmachine/nats/session-keys/v1';
const WRAP_LABEL = 'netmachine/nats/group-key/v1';

/** The DER prefix of an X25519 SubjectPublicKeyInfo; the raw 32-byte key follows it. */
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/** An X25519 key pair made for one process run or one bridge session, never stored. */
export class EphemeralKey {
  readonly publicKey: Uint8Array;
  readonly #privateKey: KeyObject;

  constructor() {
    const { publicKey, privateKey } = generateKeyPairSync('x25519');
    this.#privateKey = privateKey;
    this.publicKey = publicKey.export({ format: 'der', type: 'spki' }).subarray(X25519_SPKI_PREFIX.length);
  }

  /** The shared secret with `peer`; a SchemaError for a key that is not a usable X25519 key. */
  agree(peer: Uint8Array): Buffer {
    if (peer.length !== DH_KEY_BYTES) throw new SchemaError('dhKey', `expected ${DH_KEY_BYTES} bytes`);
    try {
      const publicKey = createPublicKey({
        key: Buffer.concat([X25519_SPKI_PREFIX, peer]),
        format: 'der',
        type: 'spki',
      });
      return diffieHellman({ privateKey: this.#privateKey, publicKey });
    } catch (error) {
      // OpenSSL refuses low-order points (an all-zero shared secret).
      throw new SchemaError('dhKey', `not a usable X25519 key (${(error as Error).message})`);
    }
  }
}

/** What one process and the bridge share for one bridge session. */
export interface PairKeys {
  /** Tags the process's messages to the bridge. */
  readonly out: Buffer;
  /** Tags the results of the process's own requests (sent to its inbox only). */
  readonly results: Buffer;
  /** Encrypts the engine name's group key in the attach reply. */
  readonly wrap: Buffer;
}

/** What a pair's keys are bound to: a secret from another node, name, process or session derives other keys. */
export interface PairContext {
  readonly node: NodeId;
  readonly name: string;
  readonly instance: string;
  readonly session: string;
  readonly processDhKey: Uint8Array;
  readonly bridgeDhKey: Uint8Array;
}

export function derivePairKeys(shared: Uint8Array, c: PairContext): PairKeys {
  const info = pack([KEYS_LABEL, c.node, c.name, c.instance, c.session, c.processDhKey, c.bridgeDhKey]);
  const okm = Buffer.from(hkdfSync('sha256', shared, Buffer.alloc(0), info, 3 * SECRET_BYTES));
  return {
    out: okm.subarray(0, SECRET_BYTES),
    results: okm.subarray(SECRET_BYTES, 2 * SECRET_BYTES),
    wrap: okm.subarray(2 * SECRET_BYTES),
  };
}

const GROUP_LABEL = 'netmachine/nats/group/v1';

/**
 * The key for the deliveries of one engine name in one bridge session, from that session's random
 * secret: the same for as long as the session lasts, so a name whose proxy is stopped and spawned
 * again keeps it, and processes that still hold it keep accepting deliveries.
 */
export function groupKeyFor(sessionSecret: Uint8Array, name: string): Buffer {
  return createHmac('sha256', sessionSecret)
    .update(pack([GROUP_LABEL, name]))
    .digest();
}

function wrapAad(c: PairContext): Buffer {
  return pack([WRAP_LABEL, c.node, c.name, c.instance, c.session]);
}

/** Encrypts a group key for one process (AES-256-GCM under the pair's `wrap` key). */
export function wrapGroupKey(pair: PairKeys, c: PairContext, groupKey: Uint8Array): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', pair.wrap, iv);
  cipher.setAAD(wrapAad(c));
  const body = Buffer.concat([cipher.update(groupKey), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

/** Decrypts a group key; a SchemaError if it was not wrapped for this pair. */
export function unwrapGroupKey(pair: PairKeys, c: PairContext, wrapped: Uint8Array): Buffer {
  if (wrapped.length !== WRAPPED_KEY_BYTES)
    throw new SchemaError('groupKey', `expected ${WRAPPED_KEY_BYTES} bytes`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', pair.wrap, wrapped.subarray(0, IV_BYTES));
    decipher.setAAD(wrapAad(c));
    decipher.setAuthTag(wrapped.subarray(IV_BYTES + SECRET_BYTES));
    return Buffer.concat([
      decipher.update(wrapped.subarray(IV_BYTES, IV_BYTES + SECRET_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw new SchemaError('groupKey', 'not wrapped for this process');
  }
}

/** `bytes` followed by their HMAC-SHA256 tag under `key`. */
export function appendTag(key: Uint8Array, bytes: Uint8Array): Buffer {
  const tag = createHmac('sha256', key).update(bytes).digest();
  return Buffer.concat([bytes, tag]);
}

/** Splits tagged bytes into the tagged part and the tag; a SchemaError if too short to hold one. */
export function splitTag(bytes: Uint8Array, path: string): { tagged: Uint8Array; tag: Uint8Array } {
  if (bytes.length <= TAG_BYTES) throw new SchemaError(path, 'too short for its tag');
  const end = bytes.length - TAG_BYTES;
  return { tagged: bytes.subarray(0, end), tag: bytes.subarray(end) };
}

/** Whether `tag` is the tag of `tagged` under `key` (compared in constant time). */
export function tagValid(key: Uint8Array, tagged: Uint8Array, tag: Uint8Array): boolean {
  if (tag.length !== TAG_BYTES) return false;
  return timingSafeEqual(createHmac('sha256', key).update(tagged).digest(), tag);
}
