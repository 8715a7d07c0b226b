import type { EngineMessage, NodeId } from '@netmachine/core';
import { SourceMismatchError } from './errors.js';
import { encodeFrame } from './wire/frame-codec.js';
import { decodeFrameBody, FrameTag, messageToWire } from './wire/frames.js';

/**
 * Encodes a message as the Message frame a direct link carries. A link carries only its own node's
 * messages (the peer takes the source to be the node it authenticated); a message from another node
 * goes through a relay, sealed end to end (`@netmachine/relay`), never in plain text over a link.
 */
export function encodeMessageFrame(message: EngineMessage, local: NodeId): Buffer {
  if (message.src.node !== local) throw new SourceMismatchError(local, message.src.node);
  return encodeFrame(FrameTag.Message, messageToWire(message));
}

/** Decodes any frame a link carries into a validated value (throws a typed error otherwise). */
export function decodeLinkFrame(tag: number, body: Uint8Array): unknown {
  return decodeFrameBody(tag, body);
}
