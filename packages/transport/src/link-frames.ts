import {
  type EngineMessage,
  expectArray,
  expectBytes,
  identityBytes,
  KEY_BYTES,
  type NodeId,
  nodeIdFromBytes,
  unpack,
} from '@netmachine/core';
import { encodeFrame } from './wire/frame-codec.js';
import {
  decodeFrameBody,
  decodeWireMessage,
  FrameTag,
  messageFromWire,
  messageToWire,
  type WireMessage,
} from './wire/frames.js';

/**
 * A message whose source is a node other than the sending peer (relayed, or forwarded by a third
 * party): `[srcNode, message]`. Unlike a direct Message frame it names its source node, so it must
 * carry that node's signature; the receiver refuses it otherwise. The tag follows core's FrameTag.
 */
export const RELAYED_MESSAGE_TAG = 0x08;

export interface RelayedWireMessage {
  readonly srcNode: NodeId;
  readonly wire: WireMessage;
}

/** Encodes a message as the frame a direct link carries: Message when we are its source. */
export function encodeMessageFrame(message: EngineMessage, local: NodeId): Buffer {
  if (message.src.node === local) return encodeFrame(FrameTag.Message, messageToWire(message));
  return encodeFrame(RELAYED_MESSAGE_TAG, [identityBytes(message.src.node), messageToWire(message)]);
}

export function decodeRelayedMessage(body: Uint8Array): RelayedWireMessage {
  const v = expectArray(unpack(body), 'relayed', 2, 2);
  return {
    srcNode: nodeIdFromBytes(expectBytes(v[0], 'relayed.src', KEY_BYTES)),
    wire: decodeWireMessage(v[1]),
  };
}

/** Decodes any frame a link carries into a validated value (throws a typed error otherwise). */
export function decodeLinkFrame(tag: number, body: Uint8Array): unknown {
  return tag === RELAYED_MESSAGE_TAG ? decodeRelayedMessage(body) : decodeFrameBody(tag, body);
}

/** The in-memory form of a relayed message received by `local`. */
export function relayedMessageFromWire(relayed: RelayedWireMessage, local: NodeId): EngineMessage {
  return messageFromWire(relayed.wire, relayed.srcNode, local);
}
