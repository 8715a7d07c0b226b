import { fc } from '@fast-check/vitest';
import { nodeId, uint } from '../../../core/test/arbitraries.js';
import type { ConnectReply, ConnectRequest } from '../../src/wire/index.js';

// The arbitraries of core's types (keys, identities, messages, plain bodies, damage to encodings)
// are core's own; the wire tests add the handshake frames.
export * from '../../../core/test/arbitraries.js';

export const connectRequest: fc.Arbitrary<ConnectRequest> = fc
  .record({
    a: fc.integer({ min: 0, max: 0xffff }),
    b: fc.integer({ min: 0, max: 0xffff }),
    src: nodeId,
    dst: nodeId,
    srcAdvertVersion: uint,
    dstAdvertVersion: uint,
  })
  .map(({ a, b, ...rest }) => ({ protoMin: Math.min(a, b), protoMax: Math.max(a, b), ...rest }));

export const connectReply: fc.Arbitrary<ConnectReply> = fc.oneof(
  fc.record({
    ok: fc.constant(true as const),
    proto: fc.integer({ min: 0, max: 0xffff }),
    srcAdvertVersion: uint,
    dstAdvertVersion: uint,
  }),
  fc.record({
    ok: fc.constant(false as const),
    error: fc.constantFrom('OverCapacity' as const, 'Incompatible' as const, 'Denied' as const),
    reason: fc.string({ maxLength: 256 }),
  }),
);
