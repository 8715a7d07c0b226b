import {
  expectArray,
  expectBytes,
  expectString,
  expectUint,
  identityBytes,
  KEY_BYTES,
  type NodeId,
  nodeIdFromBytes,
  parseNodeId,
  SchemaError,
} from '@netmachine/core';
import { RELAY_FRAME_ENGINE, RELAY_FRAME_PROTOCOL } from '@netmachine/transport/wire';
import {
  RelayDestinationNotServedError,
  RelayOverCapacityError,
  RelayRateLimitedError,
  type RelayRefusedError,
  RelaySourceNotAllowedError,
} from './errors.js';

/**
 * The engine every node runs the relay service as, and the protocol of its messages. A Forward or
 * Deliver sent as a Relay link frame (`link-frames.ts`) arrives as a message of
 * `RELAY_FRAME_PROTOCOL` between the same engines.
 */
export const RELAY_ENGINE = RELAY_FRAME_ENGINE;
export const RELAY_PROTOCOL = 'netmachine/relay@1';
export { RELAY_FRAME_PROTOCOL };

/** Largest sealed message a relay takes (16 MiB: the largest frame a link carries). */
export const MAX_SEALED_BYTES = 16 * 1024 * 1024;

/**
 * The messages relay engines exchange (msgpack arrays, first element the kind):
 * - Forward (source → relay):     `[0, dst, expiry, ref, sealed, hops, origin|null]` (origin: the
 *   sealing node, named by a relay that passes the message to another relay; null on the first hop)
 * - Deliver (relay → destination): `[1, src, expiry, sealed]`
 * - Refused (relay → source):     `[2, ref, code]`
 * - Register (destination → relay, a request): `[3]`; the reply is `[4]` or a Refused with ref 0.
 */
export const Kind = { Forward: 0, Deliver: 1, Refused: 2, Register: 3, Registered: 4 } as const;

export type RefusalCode =
  | 'source-not-allowed'
  | 'not-served'
  | 'rate-source'
  | 'rate-total'
  | 'over-capacity';
const REFUSAL_CODES: readonly RefusalCode[] = [
  'source-not-allowed',
  'not-served',
  'rate-source',
  'rate-total',
  'over-capacity',
];

export interface ForwardFrame {
  readonly kind: 0;
  readonly dst: NodeId;
  readonly expiry: number;
  readonly ref: number;
  readonly sealed: Uint8Array;
  readonly hops: number;
  readonly origin: NodeId | undefined;
}

export interface DeliverFrame {
  readonly kind: 1;
  readonly src: NodeId;
  readonly expiry: number;
  readonly sealed: Uint8Array;
}

export type RelayFrame =
  | ForwardFrame
  | DeliverFrame
  | { readonly kind: 2; readonly ref: number; readonly code: RefusalCode }
  | { readonly kind: 3 }
  | { readonly kind: 4 };

/**
 * Node ids ↔ their 32 key bytes, for the few nodes a relay engine talks to: every frame names a
 * source or destination, and base32 on each would cost more than the frame's other fields.
 */
const ID_CACHE_SIZE = 16;
const recentIds: { bytes: Uint8Array; id: NodeId }[] = [];
const idBytes = new Map<NodeId, Uint8Array>();
const MAX_ID_BYTES = 1024;

export function cachedIdBytes(id: NodeId): Uint8Array {
  let bytes = idBytes.get(id);
  if (bytes === undefined) {
    bytes = identityBytes(id);
    if (idBytes.size >= MAX_ID_BYTES) idBytes.clear();
    idBytes.set(id, bytes);
  }
  return bytes;
}

export function nodeIdOf(bytes: Uint8Array): NodeId {
  for (const entry of recentIds) if (sameBytes(entry.bytes, bytes)) return entry.id;
  const id = nodeIdFromBytes(bytes);
  if (recentIds.length >= ID_CACHE_SIZE) recentIds.pop();
  recentIds.unshift({ bytes: Uint8Array.from(bytes), id });
  return id;
}

/** Two node ids' key bytes compared in place: no view or native call per frame. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function encodeForward(
  dst: NodeId,
  expiry: number,
  ref: number,
  sealed: Uint8Array,
  hops: number,
  origin?: NodeId,
): unknown[] {
  return [
    Kind.Forward,
    cachedIdBytes(dst),
    expiry,
    ref,
    sealed,
    hops,
    origin === undefined ? null : cachedIdBytes(origin),
  ];
}

export function encodeDeliver(src: NodeId, expiry: number, sealed: Uint8Array): unknown[] {
  return [Kind.Deliver, cachedIdBytes(src), expiry, sealed];
}

export function encodeRefused(ref: number, code: RefusalCode): unknown[] {
  return [Kind.Refused, ref, code];
}

/** Validates a relay engine's message body; throws SchemaError (or InvalidIdentityError) otherwise. */
export function decodeRelayFrame(body: unknown): RelayFrame {
  const v = expectArray(body, 'relay', 1, 7);
  const kind = expectUint(v[0], 'relay.kind', 4);
  switch (kind) {
    case Kind.Forward: {
      expectArray(body, 'relay.forward', 7, 7);
      return {
        kind,
        dst: nodeIdOf(expectBytes(v[1], 'relay.dst', KEY_BYTES)),
        expiry: expectUint(v[2], 'relay.expiry'),
        ref: expectUint(v[3], 'relay.ref'),
        sealed: expectBytes(v[4], 'relay.sealed', undefined, MAX_SEALED_BYTES),
        hops: expectUint(v[5], 'relay.hops', 255),
        origin: v[6] === null ? undefined : nodeIdOf(expectBytes(v[6], 'relay.origin', KEY_BYTES)),
      };
    }
    case Kind.Deliver:
      expectArray(body, 'relay.deliver', 4, 4);
      return {
        kind,
        src: nodeIdOf(expectBytes(v[1], 'relay.src', KEY_BYTES)),
        expiry: expectUint(v[2], 'relay.expiry'),
        sealed: expectBytes(v[3], 'relay.sealed', undefined, MAX_SEALED_BYTES),
      };
    case Kind.Refused: {
      expectArray(body, 'relay.refused', 3, 3);
      const code = expectString(v[2], 'relay.code', 32) as RefusalCode;
      if (!REFUSAL_CODES.includes(code)) throw new SchemaError('relay.code', 'unknown refusal');
      return { kind, ref: expectUint(v[1], 'relay.ref'), code };
    }
    case Kind.Register:
      return { kind };
    default:
      return { kind: Kind.Registered };
  }
}

/** The typed error a source sees for a relay's refusal. */
export function refusalError(code: RefusalCode, relay: NodeId, destination: NodeId): RelayRefusedError {
  switch (code) {
    case 'source-not-allowed':
      return new RelaySourceNotAllowedError(relay);
    case 'not-served':
      return new RelayDestinationNotServedError(relay, destination);
    case 'rate-source':
      return new RelayRateLimitedError(relay, 'source');
    case 'rate-total':
      return new RelayRateLimitedError(relay, 'total');
    case 'over-capacity':
      return new RelayOverCapacityError(relay);
  }
}

/** `relay://<node id>`: the advert address of a node reached through relay `node`. */
export function relayAddress(node: NodeId): string {
  return `relay://${node}`;
}

/** The relay named by a `relay://` address, or undefined for any other address. */
export function parseRelayAddress(url: string): NodeId | undefined {
  if (!url.startsWith('relay://')) return undefined;
  try {
    return parseNodeId(url.slice('relay://'.length));
  } catch {
    return undefined;
  }
}
