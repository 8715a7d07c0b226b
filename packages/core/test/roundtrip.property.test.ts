import { fc, it } from '@fast-check/vitest';
import { describe, expect, vi } from 'vitest';
import {
  base32Decode,
  base32Encode,
  domainAdvertFromWire,
  domainAdvertToWire,
  engineAdvertFromWire,
  engineAdvertToWire,
  formatEngineAddress,
  formatNodeAdvert,
  identityBytes,
  type NodeAdvert,
  nodeAdvertFromWire,
  nodeAdvertToWire,
  nodeIdFromBytes,
  pack,
  parseEngineAddress,
  parseNodeAdvert,
  parseNodeId,
  signDomainAdvert,
  signEngineAdvert,
  signNodeAdvert,
  signTopicAdvert,
  topicAdvertFromWire,
  topicAdvertToWire,
  unpack,
  verifyDomainAdvert,
  verifyEngineAdvert,
  verifyNodeAdvert,
  verifyTopicAdvert,
} from '../src/index.js';
import {
  advertisedAddress,
  engineAddress,
  engineName,
  keyPair,
  nodeId,
  pastTime,
  plainValue,
  uint,
} from './arbitraries.js';
import { normalise } from './helpers.js';

// A hundred runs per property take a second or two alone, far longer on a loaded shared machine.
vi.setConfig({ testTimeout: 180_000 });

const optionalName = fc.option(
  fc.string({ unit: 'grapheme', maxLength: 64 }).filter((s) => s.length <= 64),
  { nil: undefined },
);

describe('identities', () => {
  it.prop([fc.uint8Array({ maxLength: 80 })])('base32 round-trips any bytes in one text form', (bytes) => {
    const text = base32Encode(bytes);
    expect(text).toMatch(/^[a-z2-7]*$/);
    expect(base32Decode(text)).toEqual(bytes);
  });

  it.prop([nodeId])('node ids parse back to the same key bytes', (id) => {
    expect(parseNodeId(id)).toBe(id);
    expect(nodeIdFromBytes(identityBytes(id))).toBe(id);
  });

  it.prop([engineAddress])('engine addresses format and parse back', (address) => {
    expect(parseEngineAddress(formatEngineAddress(address))).toEqual(address);
  });
});

describe('msgpack', () => {
  it.prop([plainValue])('carry plain values through pack and unpack unchanged', (value) => {
    expect(normalise(unpack(pack(value)))).toEqual(normalise(value));
  });
});

describe('adverts', () => {
  const nodeFields = fc.record({
    addrs: fc.array(advertisedAddress, { maxLength: 16 }),
    version: uint,
    created: pastTime,
    name: optionalName,
  });

  it.prop([keyPair, nodeFields])('NodeAdvert: sign, wire, bytes, verify', (key, fields) => {
    const advert = signNodeAdvert(key, fields);
    const decoded = nodeAdvertFromWire(unpack(pack(nodeAdvertToWire(advert))));
    expect(normalise(verifyNodeAdvert(decoded))).toEqual(normalise(advert));
  });

  it.prop([keyPair, nodeFields])('NodeAdvert: text form round-trips', (key, fields) => {
    const advert: NodeAdvert = signNodeAdvert(key, fields);
    expect(normalise(parseNodeAdvert(formatNodeAdvert(advert)))).toEqual(normalise(advert));
  });

  it.prop([
    keyPair,
    fc.record({
      publisher: engineAddress,
      tags: fc.array(fc.string({ maxLength: 64 }), { maxLength: 32 }),
      version: uint,
      created: pastTime,
    }),
  ])('TopicAdvert: sign, wire, bytes, verify', (key, fields) => {
    const advert = signTopicAdvert(key, fields);
    const decoded = topicAdvertFromWire(unpack(pack(topicAdvertToWire(advert))));
    expect(normalise(verifyTopicAdvert(decoded))).toEqual(normalise(advert));
  });

  it.prop([
    keyPair,
    fc.record({
      name: fc.string({ maxLength: 64 }),
      policy: fc.oneof(
        fc.constant({ kind: 'open' as const }),
        fc.constant({ kind: 'secret' as const }),
        fc.array(nodeId, { maxLength: 4 }).map((admins) => ({ kind: 'invite' as const, admins })),
        fc.array(nodeId, { maxLength: 4 }).map((nodes) => ({ kind: 'allow' as const, nodes })),
      ),
      nodes: fc.array(nodeId, { maxLength: 20 }),
      protocols: fc.array(fc.stringMatching(/^[a-z][a-z0-9.-]{0,20}$/), { maxLength: 5 }),
      version: uint,
      created: pastTime,
    }),
  ])('DomainAdvert: sign, wire, bytes, verify', (key, fields) => {
    const advert = signDomainAdvert(key, fields);
    const decoded = domainAdvertFromWire(unpack(pack(domainAdvertToWire(advert))));
    expect(normalise(verifyDomainAdvert(decoded))).toEqual(normalise(advert));
  });

  it.prop([
    keyPair,
    fc.record({
      name: engineName,
      key: fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 }), { nil: undefined }),
      version: uint,
      created: pastTime,
    }),
  ])('EngineAdvert: sign, wire, bytes, verify', (key, fields) => {
    const advert = signEngineAdvert(key, fields);
    const decoded = engineAdvertFromWire(unpack(pack(engineAdvertToWire(advert))));
    expect(normalise(verifyEngineAdvert(decoded))).toEqual(normalise(advert));
  });
});
