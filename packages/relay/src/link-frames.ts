import { KEY_BYTES, type NodeId, SchemaError } from '@netmachine/core';
import { FrameTag } from '@netmachine/transport/wire';
import { cachedIdBytes, type DeliverFrame, type ForwardFrame, Kind, nodeIdOf } from './protocol.js';

/**
 * A Forward or Deliver written as a Relay link frame (`FrameTag.Relay`) rather than as an engine
 * message: a few fixed fields and the sealed bytes, with no Message frame's id, names, protocol and
 * msgpack around them, and no pass through the router on the way out. The bodies (after the tag):
 *
 * - Forward (source → relay):      `kind 0 ‖ dst (32) ‖ expiry (u64) ‖ ref (u32) ‖ sealed`
 * - Deliver (relay → destination): `kind 1 ‖ src (32) ‖ expiry (u64) ‖ sealed`
 *
 * A Forward a relay passes on to another relay (multi-hop), refusals and registrations stay engine
 * messages (`protocol.ts`), as does anything sent while the connection has messages queued (a frame
 * would overtake them) or pushes back.
 */

/** Length prefix and tag. */
const FRAME_HEADER_BYTES = 5;
const FORWARD_FIELDS = 1 + KEY_BYTES + 8 + 4;
const DELIVER_FIELDS = 1 + KEY_BYTES + 8;
/**
 * Sealed messages up to this size go as frames: far below the largest frame a link takes (16 MiB by
 * default; a larger one closes the link), and above a full batch's 64 KiB bucket.
 */
export const MAX_FRAME_SEALED_BYTES = 1024 * 1024;

// Each head is copied into the link's outgoing frame before `sendRelayFrame` returns: one buffer each.
const forwardHead = Buffer.alloc(FRAME_HEADER_BYTES + FORWARD_FIELDS);
const deliverHead = Buffer.alloc(FRAME_HEADER_BYTES + DELIVER_FIELDS);

/** The head of a Forward frame for `sealedBytes` of sealed message (valid until the next call). */
export function forwardFrameHead(dst: NodeId, expiry: number, ref: number, sealedBytes: number): Buffer {
  const head = forwardHead;
  head.writeUInt32BE(1 + FORWARD_FIELDS + sealedBytes, 0);
  head[4] = FrameTag.Relay;
  head[5] = Kind.Forward;
  head.set(cachedIdBytes(dst), 6);
  writeU64(head, 6 + KEY_BYTES, expiry);
  head.writeUInt32BE(ref, 14 + KEY_BYTES);
  return head;
}

/** The head of a Deliver frame for `sealedBytes` of sealed message (valid until the next call). */
export function deliverFrameHead(src: NodeId, expiry: number, sealedBytes: number): Buffer {
  const head = deliverHead;
  head.writeUInt32BE(1 + DELIVER_FIELDS + sealedBytes, 0);
  head[4] = FrameTag.Relay;
  head[5] = Kind.Deliver;
  head.set(cachedIdBytes(src), 6);
  writeU64(head, 6 + KEY_BYTES, expiry);
  return head;
}

/**
 * Reads a Relay frame's body (its sealed bytes stay where they are); throws SchemaError for one that
 * is not a whole Forward or Deliver. What the fields say is checked as for the engine messages.
 */
export function decodeRelayLinkFrame(body: unknown): ForwardFrame | DeliverFrame {
  if (!(body instanceof Uint8Array) || body.length === 0) throw new SchemaError('relay frame', 'empty');
  const data = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  switch (data[0]) {
    case Kind.Forward:
      if (data.length <= FORWARD_FIELDS) throw new SchemaError('relay frame', 'forward too short');
      return {
        kind: Kind.Forward,
        dst: nodeIdOf(data.subarray(1, 1 + KEY_BYTES)),
        expiry: readU64(data, 1 + KEY_BYTES),
        ref: data.readUInt32BE(9 + KEY_BYTES),
        sealed: data.subarray(FORWARD_FIELDS),
        hops: 0,
        origin: undefined,
      };
    case Kind.Deliver:
      if (data.length <= DELIVER_FIELDS) throw new SchemaError('relay frame', 'deliver too short');
      return {
        kind: Kind.Deliver,
        src: nodeIdOf(data.subarray(1, 1 + KEY_BYTES)),
        expiry: readU64(data, 1 + KEY_BYTES),
        sealed: data.subarray(DELIVER_FIELDS),
      };
    default:
      throw new SchemaError('relay frame', `unknown kind ${data[0]}`);
  }
}

function writeU64(out: Buffer, at: number, value: number): void {
  out.writeUInt32BE(Math.floor(value / 0x1_0000_0000), at);
  out.writeUInt32BE(value >>> 0, at + 4);
}

function readU64(data: Buffer, at: number): number {
  const high = data.readUInt32BE(at);
  // Above 2^53 a number loses its low bits: no expiry is that far off.
  if (high >= 0x20_0000) throw new SchemaError('relay frame', 'expiry out of range');
  return high * 0x1_0000_0000 + data.readUInt32BE(at + 4);
}
