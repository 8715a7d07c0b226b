import { type CipherGCM, type DecipherGCM, hkdfSync, randomBytes } from 'node:crypto';
import { identityBytes, type KeyPair, type NodeId, verifySignature } from '@netmachine/core';
import type { ReplayWindow } from '@netmachine/transport';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { MalformedRelayMessageError, RelaySessionSignatureError } from './errors.js';
import {
  OFF_COUNTER,
  OFF_CREATED,
  OFF_EPHEMERAL,
  OFF_FLAGS,
  OFF_SESSION,
  OFF_SIGNATURE,
  OFF_VERSION,
  SEALED_HEADER_BYTES,
  SEALED_VERSION,
  SESSION_ID_BYTES,
  writeU64,
} from './sealed-format.js';

/**
 * The public-key step of a relay session, done once per (source, destination) session and kept
 * apart from the per-message AEAD: the source makes an ephemeral X25519 key, signs it with its
 * Ed25519 node key, and derives the session key with HKDF from `X25519(ephemeral, dst) ‖
 * X25519(src, dst)` (both X25519 keys derived from the Ed25519 node keys), salted and labelled
 * with both node ids. Every message of the session carries the signed session header; the
 * destination checks it once and caches the key, so each message costs one AEAD.
 */

const SESSION_LABEL = Buffer.from('netmachine/relay/session/1');
const KEY_LABEL = Buffer.from('netmachine/relay/key/1');

/** A node's X25519 secret and public key, derived from its Ed25519 node key. */
export interface MontgomeryKeys {
  readonly secret: Uint8Array;
  readonly publicKey: Uint8Array;
}

export interface SenderSession {
  readonly dst: Uint8Array;
  readonly header: Buffer;
  readonly key: Buffer;
  readonly noncePrefix: Buffer;
  readonly createdAt: number;
  counter: number;
  /** A cipher made ahead for message `aheadCounter` (see `RelaySealer`); used once, for that counter only. */
  ahead: CipherGCM | undefined;
  aheadCounter: number;
}

export interface ReceiverSession {
  readonly key: Buffer;
  readonly noncePrefix: Buffer;
  readonly createdAt: number;
  readonly replay: ReplayWindow;
  /** A decipher made ahead for message `aheadCounter` (see `RelayOpener`); used once, for that counter only. */
  ahead: DecipherGCM | undefined;
  aheadCounter: number;
}

/** Our Ed25519 node key as an X25519 secret and public key (computed once). */
export function montgomeryKeys(keyPair: KeyPair): MontgomeryKeys {
  const secret = ed25519.utils.toMontgomerySecret(keyPair.exportSeed());
  return { secret, publicKey: x25519.getPublicKey(secret) };
}

/** A node id's Ed25519 key as an X25519 public key. Throws for a key that is not a curve point. */
function montgomeryPublic(node: NodeId): Uint8Array {
  return ed25519.utils.toMontgomery(identityBytes(node));
}

function sessionSigningBytes(
  src: Uint8Array,
  dst: Uint8Array,
  sessionId: Uint8Array,
  ephemeral: Uint8Array,
  createdAt: Uint8Array,
): Buffer {
  return Buffer.concat([SESSION_LABEL, src, dst, sessionId, ephemeral, createdAt]);
}

function deriveKey(
  ikm: Uint8Array,
  src: Uint8Array,
  dst: Uint8Array,
  sessionId: Uint8Array,
  ephemeral: Uint8Array,
): { key: Buffer; noncePrefix: Buffer } {
  const info = Buffer.concat([KEY_LABEL, src, dst, ephemeral]);
  const out = Buffer.from(hkdfSync('sha256', ikm, sessionId, info, 36));
  return { key: out.subarray(0, 32), noncePrefix: out.subarray(32, 36) };
}

/**
 * A new session from `keyPair` (whose id bytes are `src`) to `destination`, created at `now`: the
 * signed header every message of the session starts with, and the key both ends derive.
 */
export function startSenderSession(
  keyPair: KeyPair,
  src: Uint8Array,
  statics: MontgomeryKeys,
  destination: NodeId,
  now: number,
): SenderSession {
  const dst = identityBytes(destination);
  const dstX = montgomeryPublic(destination);
  const ephemeralSecret = x25519.utils.randomSecretKey();
  const ephemeral = x25519.getPublicKey(ephemeralSecret);
  const sessionId = randomBytes(SESSION_ID_BYTES);
  const ikm = Buffer.concat([
    x25519.getSharedSecret(ephemeralSecret, dstX),
    x25519.getSharedSecret(statics.secret, dstX),
  ]);
  const { key, noncePrefix } = deriveKey(ikm, src, dst, sessionId, ephemeral);
  const header = Buffer.alloc(SEALED_HEADER_BYTES);
  header[OFF_VERSION] = SEALED_VERSION;
  header[OFF_FLAGS] = 0;
  sessionId.copy(header, OFF_SESSION);
  header.set(ephemeral, OFF_EPHEMERAL);
  writeU64(header, OFF_CREATED, now);
  const signed = sessionSigningBytes(
    src,
    dst,
    sessionId,
    ephemeral,
    header.subarray(OFF_CREATED, OFF_CREATED + 8),
  );
  header.set(keyPair.sign(signed), OFF_SIGNATURE);
  return { dst, header, key, noncePrefix, createdAt: now, counter: 0, ahead: undefined, aheadCounter: 0 };
}

/**
 * The session key of a header `data` from `source` (id bytes `src`) to us (id bytes `dst`, X25519
 * keys `statics`). Throws if the header's signature is not the source's, or its ephemeral key is
 * unusable. The caller checks the session's age and its admission rate first: this is the costly part.
 */
export function acceptSessionHeader(
  source: NodeId,
  src: Uint8Array,
  dst: Uint8Array,
  statics: MontgomeryKeys,
  data: Buffer,
): { key: Buffer; noncePrefix: Buffer } {
  const sessionId = data.subarray(OFF_SESSION, OFF_EPHEMERAL);
  const ephemeral = data.subarray(OFF_EPHEMERAL, OFF_CREATED);
  const signed = sessionSigningBytes(
    src,
    dst,
    sessionId,
    ephemeral,
    data.subarray(OFF_CREATED, OFF_SIGNATURE),
  );
  if (!verifySignature(src, signed, data.subarray(OFF_SIGNATURE, OFF_COUNTER))) {
    throw new RelaySessionSignatureError(source);
  }
  let ikm: Buffer;
  try {
    ikm = Buffer.concat([
      x25519.getSharedSecret(statics.secret, ephemeral),
      x25519.getSharedSecret(statics.secret, montgomeryPublic(source)),
    ]);
  } catch (error) {
    // A low-order or otherwise unusable ephemeral key (noble refuses an all-zero shared secret).
    throw Object.assign(new MalformedRelayMessageError('unusable ephemeral key'), { cause: error });
  }
  return deriveKey(ikm, src, dst, sessionId, ephemeral);
}
