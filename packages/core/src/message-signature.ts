import { pack } from './codec.js';
import { plainBody } from './encoded-body.js';
import { identityBytes } from './identity.js';
import { type KeyPair, verifySignature } from './keys.js';
import { type EngineMessage, isTopicAddress } from './message.js';

/**
 * Message signatures: a message that crosses a third party (a relay, multi-hop pub/sub, a broker),
 * or any message in strict mode, carries its source's Ed25519 signature over this encoding.
 */
const MESSAGE_LABEL = 'netmachine/message/v1';

/**
 * The bytes a message signature covers. Exported for verifiers that check signatures elsewhere (a
 * worker thread): they need these bytes, the signature and the signer's key.
 */
export function signedMessageBytes(msg: EngineMessage): Buffer {
  const dst = isTopicAddress(msg.dst)
    ? ['topic', identityBytes(msg.dst.topic)]
    : [identityBytes(msg.dst.node), msg.dst.name];
  return pack([
    MESSAGE_LABEL,
    identityBytes(msg.src.node),
    msg.src.name,
    dst,
    msg.id,
    msg.replyTo ?? null,
    msg.expiry ?? null,
    msg.protocol,
    plainBody(msg.body),
  ]);
}

/**
 * Signs a message with the source node's key (or a keyed engine's key). Covers both addresses,
 * id, replyTo, expiry, protocol and body.
 */
export function signMessage<B>(key: KeyPair, msg: EngineMessage<B>): EngineMessage<B> {
  return { ...msg, sig: key.sign(signedMessageBytes(msg)) };
}

/** True when `msg.sig` is a valid signature by `signer` (the source node's key unless stated). */
export function verifyMessage(msg: EngineMessage, signer: Uint8Array = identityBytes(msg.src.node)): boolean {
  return msg.sig !== undefined && verifySignature(signer, signedMessageBytes(msg), msg.sig);
}
