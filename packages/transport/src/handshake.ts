import {
  HandshakeError,
  IncompatibleProtocolError,
  type NodeId,
  OverCapacityError,
  PeerDeniedError,
  PeerKeyMismatchError,
  unpack,
} from '@netmachine/core';
import { encodeFrame } from './wire/frame-codec.js';
import {
  type ConnectErrorKind,
  type ConnectReply,
  type ConnectRequest,
  decodeConnectReply,
  decodeConnectRequest,
  encodeConnectRequest,
  FrameTag,
  PROTOCOL_MAX,
  PROTOCOL_MIN,
} from './wire/frames.js';

/**
 * The dialer's ConnectRequest frame. Made before the dial, so that a transport that can send it with
 * its own handshake (`sendsFirstBytesEarly`) does, and by the session otherwise.
 */
export function connectRequestFrame(params: {
  readonly local: NodeId;
  readonly peer: NodeId;
  readonly localAdvertVersion: number;
  readonly peerAdvertVersion: number;
}): Buffer {
  const request: ConnectRequest = {
    protoMin: PROTOCOL_MIN,
    protoMax: PROTOCOL_MAX,
    src: params.local,
    dst: params.peer,
    srcAdvertVersion: params.localAdvertVersion,
    dstAdvertVersion: params.peerAdvertVersion,
  };
  return encodeFrame(FrameTag.ConnectRequest, encodeConnectRequest(request));
}

/** A refusal decided by the engine for an inbound caller (trust, capacity). */
export interface Refusal {
  readonly error: ConnectErrorKind;
  readonly reason: string;
}

export type RequestVerdict =
  | { readonly ok: true; readonly proto: number }
  | { readonly ok: false; readonly kind: ConnectErrorKind; readonly reason: string; readonly error: Error };

/**
 * Judges an inbound ConnectRequest. The request must name the key the transport authenticated as
 * its source and us as its destination, share a protocol version, and pass the engine's `admit`.
 */
export function judgeConnectRequest(
  request: ConnectRequest,
  local: NodeId,
  peer: NodeId,
  admit: (peer: NodeId) => Refusal | undefined,
): RequestVerdict {
  if (request.src !== peer) {
    const error = new PeerKeyMismatchError(peer, request.src);
    return { ok: false, kind: 'Denied', reason: 'source is not the authenticated key', error };
  }
  if (request.dst !== local) {
    const error = new PeerDeniedError(peer, 'asked for another node');
    return { ok: false, kind: 'Denied', reason: 'wrong destination node', error };
  }
  const proto = Math.min(PROTOCOL_MAX, request.protoMax);
  if (proto < Math.max(PROTOCOL_MIN, request.protoMin)) {
    const error = new IncompatibleProtocolError(
      [PROTOCOL_MIN, PROTOCOL_MAX],
      [request.protoMin, request.protoMax],
    );
    return { ok: false, kind: 'Incompatible', reason: `we speak ${PROTOCOL_MIN}..${PROTOCOL_MAX}`, error };
  }
  const refusal = admit(peer);
  if (refusal !== undefined) {
    const error =
      refusal.error === 'OverCapacity'
        ? new OverCapacityError(local)
        : new PeerDeniedError(peer, refusal.reason);
    return { ok: false, kind: refusal.error, reason: refusal.reason, error };
  }
  return { ok: true, proto };
}

/** The typed error for a ConnectReply that refused us, or for one choosing a version we do not speak. */
export function connectReplyError(reply: ConnectReply, peer: NodeId): Error | undefined {
  if (reply.ok) {
    if (reply.proto >= PROTOCOL_MIN && reply.proto <= PROTOCOL_MAX) return undefined;
    return new HandshakeError(`peer chose protocol ${reply.proto}, outside ${PROTOCOL_MIN}..${PROTOCOL_MAX}`);
  }
  switch (reply.error) {
    case 'OverCapacity':
      return new OverCapacityError(peer);
    case 'Incompatible':
      return new IncompatibleProtocolError([PROTOCOL_MIN, PROTOCOL_MAX], [0, 0]);
    default:
      return new PeerDeniedError(peer, reply.reason);
  }
}

/**
 * Handshake frames already decoded, by their bytes: a node that connects again and again sends the
 * same ConnectRequest (and gets the same ConnectReply) each time, and decoding one (msgpack, two node
 * ids to text) sits on the path to the first message. Bounded: emptied when full. The values are
 * frozen, being shared.
 */
const decodedRequests = new Map<string, ConnectRequest>();
const decodedReplies = new Map<string, ConnectReply>();
const MAX_DECODED = 256;

function remembered<T extends object>(
  cache: Map<string, T>,
  body: Uint8Array,
  decode: (value: unknown) => T,
): T {
  const key = Buffer.from(body.buffer, body.byteOffset, body.length).toString('latin1');
  let value = cache.get(key);
  if (value === undefined) {
    value = Object.freeze(decode(unpack(body)));
    if (cache.size >= MAX_DECODED) cache.clear();
    cache.set(key, value);
  }
  return value;
}

/** Decodes a ConnectRequest frame's body (throws a typed error when it is not one). */
export function connectRequestOf(body: Uint8Array): ConnectRequest {
  return remembered(decodedRequests, body, decodeConnectRequest);
}

/** Decodes a ConnectReply frame's body (throws a typed error when it is not one). */
export function connectReplyOf(body: Uint8Array): ConnectReply {
  return remembered(decodedReplies, body, decodeConnectReply);
}
