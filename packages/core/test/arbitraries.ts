import { fc } from '@fast-check/vitest';
import {
  type AdvertisedAddress,
  type EngineAddress,
  type EngineMessage,
  KeyPair,
  MAX_PROTOCOL_LENGTH,
  type NodeId,
  nodeIdFromBytes,
} from '../src/index.js';

/**
 * fast-check arbitraries for core's types. Keys come from a small fixed pool: deriving a key pair
 * per run would dominate the run time without finding anything a pool of eight does not.
 */
const keyPool = Array.from({ length: 8 }, (_, i) => KeyPair.fromSeed(new Uint8Array(32).fill(i + 1)));

export const keyPair = fc.constantFrom(...keyPool);
export const nodeId: fc.Arbitrary<NodeId> = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((bytes) => nodeIdFromBytes(bytes));
export const engineName = fc.stringMatching(/^[A-Za-z0-9._:/-]{1,64}$/);
export const engineAddress: fc.Arbitrary<EngineAddress> = fc.record({ node: nodeId, name: engineName });
export const uint = fc.maxSafeNat();
/** A millisecond timestamp around now, so adverts verify without a clock override. */
export const pastTime = fc.integer({ min: 0, max: Date.now() });

export const advertisedAddress: fc.Arbitrary<AdvertisedAddress> = fc.record({
  url: fc.stringMatching(/^[a-z][a-z0-9+.-]{0,8}:\/\/[!-~]{1,200}$/),
  weight: fc.integer({ min: 0, max: 255 }),
});

const bodyString = fc.string({ unit: 'grapheme', maxLength: 40 });
// msgpackr renames a `__proto__` key (a guard against prototype pollution), so it cannot round-trip.
const bodyKey = bodyString.filter((key) => key !== '__proto__');
const bodyNumber = fc.oneof(
  fc.maxSafeInteger(),
  fc.integer(),
  fc.double().map((x) => (Object.is(x, -0) ? 0 : x)),
);

/** Values that plain msgpack carries and an engine message body may hold. */
export const plainValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    bodyNumber,
    bodyString,
    fc.uint8Array({ maxLength: 64 }),
    fc.array(tie('value'), { maxLength: 6 }),
    fc.dictionary(bodyKey, tie('value'), { maxKeys: 6 }),
  ),
})).value;

export const protocolName = fc.string({
  minLength: 1,
  maxLength: MAX_PROTOCOL_LENGTH,
  unit: 'grapheme-ascii',
});

/** A message between two engines on different nodes, as a link carries it. */
export type LinkMessage = EngineMessage & { readonly dst: EngineAddress };
export const linkMessage: fc.Arbitrary<LinkMessage> = fc.record(
  {
    id: uint,
    src: engineAddress,
    dst: engineAddress,
    replyTo: uint,
    expiry: uint,
    protocol: protocolName,
    body: plainValue,
  },
  { requiredKeys: ['id', 'src', 'dst', 'protocol', 'body'] },
);

/** Ways to damage an encoding: flip a bit, overwrite, drop, insert, truncate or extend. */
export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'truncate'; at: number }
  | { kind: 'append'; bytes: Uint8Array }
  | { kind: 'splice'; at: number; fragment: Uint8Array };

/**
 * Encodings msgpackr decodes to something other than a plain value: the 0xc1 marker, undefined,
 * a BigInt, a Set, an Error, a RegExp, a Float64Array, an ArrayBuffer and a back-reference.
 * Random bytes almost never spell these, so damaged input splices them in on purpose.
 */
export const HOSTILE_FRAGMENTS: readonly Uint8Array[] = [
  [0xc1],
  [0xd4, 0x00, 0x00],
  [0xd5, 0x42, 0x01, 0xff],
  [0xd4, 0x73, 0x00, 0x90],
  [0xd4, 0x65, 0x00, 0x92, 0xa5, 0x45, 0x72, 0x72, 0x6f, 0x72, 0xa1, 0x78],
  [0xd4, 0x78, 0x00, 0x92, 0xa1, 0x61, 0xa0],
  [0xc7, 0x09, 0x74, 0x08, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f],
  [0xc7, 0x01, 0x74, 0x10],
  [0xd6, 0x69, 0, 0, 0, 0, 0x91, 0xd6, 0x70, 0, 0, 0, 0],
  [0xd6, 0xff, 0, 0, 0, 1],
].map((bytes) => new Uint8Array(bytes));

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({
    kind: fc.constant('splice' as const),
    at: fc.nat(),
    fragment: fc.constantFrom(...HOSTILE_FRAGMENTS),
  }),
);

export function applyMutation(input: Uint8Array, m: Mutation): Buffer {
  const bytes = Buffer.from(input);
  const at = bytes.length === 0 ? 0 : ('at' in m ? m.at : 0) % bytes.length;
  switch (m.kind) {
    case 'flip':
      if (bytes.length > 0) bytes[at]! ^= 1 << m.bit;
      return bytes;
    case 'set':
      if (bytes.length > 0) bytes[at] = m.byte;
      return bytes;
    case 'delete':
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.count)]);
    case 'insert':
      return Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
    case 'truncate':
      return bytes.subarray(0, at);
    case 'append':
      return Buffer.concat([bytes, m.bytes]);
    case 'splice':
      return Buffer.concat([bytes.subarray(0, at), m.fragment, bytes.subarray(at + 1)]);
  }
}
