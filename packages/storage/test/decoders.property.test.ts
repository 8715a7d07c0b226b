import { fc, it } from '@fast-check/vitest';
import { KeyPair, NetmachineError, pack, unpack } from '@netmachine/core';
import { describe, expect } from 'vitest';
import { parseChunk } from '../src/chunk-format.js';
import { commitmentFromWire, commitmentToWire, signCommitment } from '../src/commitment.js';
import { parseReference, verifyCommitment } from '../src/index.js';
import {
  parseChunkGetReply,
  parseChunkGetRequest,
  parseChunkPutReply,
  parseChunkPutRequest,
} from '../src/protocol.js';

/**
 * Every decoder of storage requests, replies, chunks, commitments and references, fed random and
 * damaged input: it returns a value or throws a NetmachineError — never another exception.
 */
function onlyTypedErrors(decode: () => unknown): void {
  try {
    decode();
  } catch (error) {
    expect(error).toBeInstanceOf(NetmachineError);
  }
}

// Values shaped like the real messages, with every field free to be wrong.
const field = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.integer(),
  fc.boolean(),
  fc.string({ maxLength: 20 }),
  fc.constant(null),
  fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 4 }),
);
const record = fc.record(
  {
    chunk: field,
    children: field,
    chunks: field,
    expiry: field,
    ok: field,
    content: field,
    commitments: field,
    results: field,
    error: field,
    message: field,
  },
  { requiredKeys: [] },
);
const anything = fc.oneof(record, fc.anything(), fc.uint8Array({ maxLength: 64 }));

describe('storage decoders reject bad input with typed errors only', () => {
  it.prop([anything])('parseChunkGetRequest', (value) => onlyTypedErrors(() => parseChunkGetRequest(value)));
  it.prop([anything])('parseChunkPutRequest', (value) => onlyTypedErrors(() => parseChunkPutRequest(value)));
  it.prop([anything, fc.integer({ min: 1, max: 64 })])('parseChunkGetReply', (value, max) =>
    onlyTypedErrors(() => parseChunkGetReply(value, max)),
  );
  it.prop([anything, fc.integer({ min: 0, max: 8 })])('parseChunkPutReply', (value, expected) =>
    onlyTypedErrors(() => parseChunkPutReply(value, expected)),
  );
  it.prop([fc.uint8Array({ maxLength: 512 })])('parseChunk', (bytes) =>
    onlyTypedErrors(() => parseChunk(bytes)),
  );
  it.prop([fc.anything()])('commitmentFromWire', (value) => onlyTypedErrors(() => commitmentFromWire(value)));
  it.prop([fc.string({ maxLength: 200 })])('parseReference', (text) =>
    onlyTypedErrors(() => parseReference(`nmref1.${text}`)),
  );

  const key = KeyPair.generate();
  it.prop([
    fc.uint8Array({ minLength: 32, maxLength: 32 }),
    fc.nat(),
    fc.nat({ max: 200 }),
    fc.nat({ max: 7 }),
  ])(
    'a signed commitment survives its wire form; any flipped bit of it is refused',
    (chunk, expiry, index, bit) => {
      const commitment = signCommitment(key, chunk, expiry);
      const wire = unpack(pack(commitmentToWire(commitment)));
      expect(verifyCommitment(commitmentFromWire(wire))).toBeTruthy();
      const bytes = pack(commitmentToWire(commitment));
      const damaged = Uint8Array.from(bytes);
      const at = index % damaged.length;
      damaged[at] = (damaged[at] as number) ^ (1 << bit);
      expect(() => verifyCommitment(commitmentFromWire(unpack(damaged)))).toThrow(NetmachineError);
    },
  );
});
