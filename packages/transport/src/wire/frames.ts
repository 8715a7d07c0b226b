import {
  type EngineMessage,
  expectArray,
  expectBoolean,
  expectBytes,
  expectPlainValue,
  expectString,
  expectUint,
  identityBytes,
  isEngineName,
  isTopicAddress,
  KEY_BYTES,
  MAX_BODY_DEPTH,
  MAX_PROTOCOL_LENGTH,
  type NodeAdvert,
  type NodeId,
  nodeAdvertFromWire,
  nodeAdvertToWire,
  nodeIdFromBytes,
  optional,
  plainBody,
  SchemaError,
  SIGNATURE_BYTES,
  unpack,
} from '@netmachine/core';
import { decodeMessageBody } from './message-frame.js';

/**
 * Frame type tags of the node-to-node protocol. Every frame is
 * `u32 length | u8 tag | msgpack body` (see frame-codec.ts).
 */
export const FrameTag = {
  ConnectRequest: 0x01,
  ConnectReply: 0x02,
  Message: 0x03,
  NodeAdvert: 0x04,
  Ping: 0x05,
  Pong: 0x06,
  Goodbye: 0x07,
  /**
   * A relay's Forward or Deliver (`@netmachine/relay`): a sealed message with a few fixed fields, read
   * as a message from the peer's relay engine to ours (`RELAY_FRAME_ENGINE`, `RELAY_FRAME_PROTOCOL`,
   * the frame's body as the message body) without a Message frame's fields around it. 0x08 (a retired
   * third-party message frame: a link carries only its peer's messages), 0x09 and 0x0a are unknown.
   */
  Relay: 0x0b,
} as const;

/** The engine a Relay frame comes from and goes to, and the protocol its message is given. */
export const RELAY_FRAME_ENGINE = 'relay';
export const RELAY_FRAME_PROTOCOL = 'netmachine/relay-frame@1';
export type FrameTag = (typeof FrameTag)[keyof typeof FrameTag];

/** Protocol versions this implementation speaks. */
export const PROTOCOL_MIN = 1;
export const PROTOCOL_MAX = 1;

// --- handshake ----------------------------------------------------------

export interface ConnectRequest {
  readonly protoMin: number;
  readonly protoMax: number;
  readonly src: NodeId;
  readonly dst: NodeId;
  /** Version of the sender's own advert. */
  readonly srcAdvertVersion: number;
  /** Version of the receiver's advert that the sender holds (0 = none). */
  readonly dstAdvertVersion: number;
}

export function encodeConnectRequest(r: ConnectRequest): unknown[] {
  return [
    r.protoMin,
    r.protoMax,
    identityBytes(r.src),
    identityBytes(r.dst),
    r.srcAdvertVersion,
    r.dstAdvertVersion,
  ];
}

export function decodeConnectRequest(value: unknown): ConnectRequest {
  const v = expectArray(value, 'connectRequest', 6, 6);
  const protoMin = expectUint(v[0], 'connectRequest.protoMin', 0xffff);
  const protoMax = expectUint(v[1], 'connectRequest.protoMax', 0xffff);
  if (protoMax < protoMin) throw new SchemaError('connectRequest.protoMax', 'below protoMin');
  return {
    protoMin,
    protoMax,
    src: nodeIdFromBytes(expectBytes(v[2], 'connectRequest.src', KEY_BYTES)),
    dst: nodeIdFromBytes(expectBytes(v[3], 'connectRequest.dst', KEY_BYTES)),
    srcAdvertVersion: expectUint(v[4], 'connectRequest.srcAdvertVersion'),
    dstAdvertVersion: expectUint(v[5], 'connectRequest.dstAdvertVersion'),
  };
}

export type ConnectErrorKind = 'OverCapacity' | 'Incompatible' | 'Denied';
const CONNECT_ERRORS: readonly ConnectErrorKind[] = ['OverCapacity', 'Incompatible', 'Denied'];

export type ConnectReply =
  | {
      readonly ok: true;
      readonly proto: number;
      readonly srcAdvertVersion: number;
      readonly dstAdvertVersion: number;
    }
  | { readonly ok: false; readonly error: ConnectErrorKind; readonly reason: string };

export function encodeConnectReply(r: ConnectReply): unknown[] {
  return r.ok ? [true, r.proto, r.srcAdvertVersion, r.dstAdvertVersion] : [false, r.error, r.reason];
}

export function decodeConnectReply(value: unknown): ConnectReply {
  const v = expectArray(value, 'connectReply', 3, 4);
  if (expectBoolean(v[0], 'connectReply.ok')) {
    if (v.length !== 4) throw new SchemaError('connectReply', 'expected 4 elements');
    return {
      ok: true,
      proto: expectUint(v[1], 'connectReply.proto', 0xffff),
      srcAdvertVersion: expectUint(v[2], 'connectReply.srcAdvertVersion'),
      dstAdvertVersion: expectUint(v[3], 'connectReply.dstAdvertVersion'),
    };
  }
  if (v.length !== 3) throw new SchemaError('connectReply', 'expected 3 elements');
  const error = v[1] as ConnectErrorKind;
  if (!CONNECT_ERRORS.includes(error)) throw new SchemaError('connectReply.error', 'unknown error kind');
  return { ok: false, error, reason: expectString(v[2], 'connectReply.reason', 256) };
}

// --- engine messages on a direct link -----------------------------------

/**
 * On a direct link the source node is the authenticated peer and the destination node is the
 * receiver, so only engine names travel:
 * `[id, srcName, dstName, replyTo|null, expiry|null, protocol, body, sig|null]`.
 */
export interface WireMessage {
  readonly id: number;
  readonly srcName: string;
  readonly dstName: string;
  readonly replyTo: number | undefined;
  readonly expiry: number | undefined;
  readonly protocol: string;
  readonly body: unknown;
  readonly sig: Uint8Array | undefined;
}

/** Encodes an engine message bound for `msg.dst.node` as the array body of a Message frame. */
export function messageToWire(msg: EngineMessage): unknown[] {
  if (isTopicAddress(msg.dst)) throw new SchemaError('message.dst', 'a topic message is not sent on a link');
  return [
    msg.id,
    msg.src.name,
    msg.dst.name,
    msg.replyTo ?? null,
    msg.expiry ?? null,
    msg.protocol,
    plainBody(msg.body),
    msg.sig ?? null,
  ];
}

export function decodeWireMessage(value: unknown): WireMessage {
  const v = expectArray(value, 'message', 8, 8);
  const srcName = v[1];
  const dstName = v[2];
  if (!isEngineName(srcName)) throw new SchemaError('message.src', 'expected an engine name');
  if (!isEngineName(dstName)) throw new SchemaError('message.dst', 'expected an engine name');
  return {
    id: expectUint(v[0], 'message.id'),
    srcName,
    dstName,
    replyTo: optional(v[3], (x) => expectUint(x, 'message.replyTo')),
    expiry: optional(v[4], (x) => expectUint(x, 'message.expiry')),
    protocol: expectString(v[5], 'message.protocol', MAX_PROTOCOL_LENGTH, 1),
    // msgpackr also decodes its own extensions (Set, Error, RegExp, typed arrays, its 0xc1 marker);
    // a peer must not be able to hand an engine anything but plain msgpack values.
    body: expectPlainValue(v[6], 'message.body', MAX_BODY_DEPTH, Number.MAX_SAFE_INTEGER),
    sig: optional(v[7], (x) => expectBytes(x, 'message.sig', SIGNATURE_BYTES)),
  };
}

/** Builds the in-memory message from a wire message received from `peer` by `local`. */
export function messageFromWire(w: WireMessage, peer: NodeId, local: NodeId): EngineMessage {
  return {
    id: w.id,
    src: { node: peer, name: w.srcName },
    dst: { node: local, name: w.dstName },
    replyTo: w.replyTo,
    expiry: w.expiry,
    protocol: w.protocol,
    body: w.body,
    sig: w.sig,
  };
}

// --- small frames ---------------------------------------------------------

export function encodeAdvertFrameBody(a: NodeAdvert): unknown[] {
  return nodeAdvertToWire(a);
}

export function decodeAdvertFrameBody(value: unknown): NodeAdvert {
  return nodeAdvertFromWire(value);
}

/** Goodbye: `[code, reason]` — why the sender is closing the connection. */
export interface Goodbye {
  readonly code: string;
  readonly reason: string;
}

export function encodeGoodbye(g: Goodbye): unknown[] {
  return [g.code, g.reason];
}

export function decodeGoodbye(value: unknown): Goodbye {
  const v = expectArray(value, 'goodbye', 2, 2);
  return { code: expectString(v[0], 'goodbye.code', 64), reason: expectString(v[1], 'goodbye.reason', 256) };
}

/** Ping and Pong carry one unsigned integer (a nonce / timestamp echoed back). */
export function decodePing(value: unknown): number {
  return expectUint(value, 'ping');
}

/** Decodes a frame body by tag into a validated value; unknown tags are a SchemaError. */
export function decodeFrameBody(tag: number, body: Uint8Array): unknown {
  if (tag === FrameTag.Message) {
    return decodeMessageBody(
      Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.length),
    );
  }
  const value = unpack(body);
  switch (tag) {
    case FrameTag.ConnectRequest:
      return decodeConnectRequest(value);
    case FrameTag.ConnectReply:
      return decodeConnectReply(value);
    case FrameTag.NodeAdvert:
      return decodeAdvertFrameBody(value);
    case FrameTag.Ping:
    case FrameTag.Pong:
      return decodePing(value);
    case FrameTag.Goodbye:
      return decodeGoodbye(value);
    default:
      throw new SchemaError('frame.tag', `unknown frame type ${tag}`);
  }
}
