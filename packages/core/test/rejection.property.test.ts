import { fc, it } from '@fast-check/vitest';
import { describe, expect, vi } from 'vitest';
import {
  base32Decode,
  domainAdvertFromWire,
  domainAdvertToWire,
  engineAdvertFromWire,
  engineAdvertToWire,
  formatNodeAdvert,
  isEngineName,
  isKeyText,
  KeyPair,
  nodeAdvertFromWire,
  nodeAdvertToWire,
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
import { applyMutation, keyPair, mutation, nodeId } from './arbitraries.js';
import { decodesOrRejects, isUint, normalise } from './helpers.js';

// A hundred runs per property take a second or two alone, far longer on a loaded shared machine.
vi.setConfig({ testTimeout: 180_000 });

function checkAdvertCommon(a: { version: number; created: number; sig: Uint8Array }): void {
  expect(isUint(a.version) && isUint(a.created)).toBe(true);
  expect(a.sig instanceof Uint8Array && a.sig.length === 64).toBe(true);
}

describe('random input', () => {
  it.prop([fc.uint8Array({ maxLength: 300 })])('unpack throws only MalformedFrameError', (bytes) => {
    decodesOrRejects(
      () => unpack(bytes),
      () => {},
    );
  });

  // Mostly-valid msgpack is far likelier to reach the schema checks than random bytes.
  it.prop([
    fc.anything({ withTypedArray: true, withDate: true, withMap: true, withSet: true, withBigInt: true }),
  ])('the advert decoders accept only their own shapes', (value) => {
    decodesOrRejects(() => nodeAdvertFromWire(value), checkAdvertCommon);
    decodesOrRejects(() => topicAdvertFromWire(value), checkAdvertCommon);
    decodesOrRejects(() => domainAdvertFromWire(value), checkAdvertCommon);
    decodesOrRejects(() => engineAdvertFromWire(value), checkAdvertCommon);
  });

  it.prop([fc.string({ maxLength: 200 })])('identity and address parsers throw only typed errors', (text) => {
    decodesOrRejects(
      () => parseNodeId(text),
      (id) => expect(isKeyText(id)).toBe(true),
    );
    decodesOrRejects(
      () => parseEngineAddress(text),
      (a) => expect(isEngineName(a.name) && isKeyText(a.node)).toBe(true),
    );
    const bytes = base32Decode(text);
    if (bytes !== undefined) expect(bytes).toBeInstanceOf(Uint8Array);
  });

  it.prop([fc.string({ maxLength: 300 }), fc.base64String({ maxLength: 300 })])(
    'parseNodeAdvert and KeyPair.fromPem throw only typed errors',
    (text, b64) => {
      const candidates = [
        text,
        `nmadvert1.${text}`,
        `nmadvert1.${b64.replace(/\+/g, '-').replace(/\//g, '_')}`,
      ];
      for (const candidate of candidates) {
        decodesOrRejects(
          () => parseNodeAdvert(candidate),
          () => {},
        );
      }
      decodesOrRejects(
        () => KeyPair.fromPem(`-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`),
        (key) => expect(isKeyText(key.id)).toBe(true),
      );
    },
  );
});

describe('damaged valid input', () => {
  const signedAdverts = fc.oneof(
    fc.tuple(keyPair, fc.array(nodeId, { maxLength: 3 })).map(([key, nodes]) => {
      const advert = signDomainAdvert(key, {
        name: 'd',
        policy: { kind: 'open' },
        nodes,
        protocols: ['x'],
        version: 2,
        created: 1,
      });
      return {
        wire: domainAdvertToWire(advert),
        advert,
        read: domainAdvertFromWire,
        verify: verifyDomainAdvert,
      };
    }),
    fc.tuple(keyPair, fc.string({ maxLength: 10 })).map(([key, tag]) => {
      const advert = signTopicAdvert(key, {
        publisher: { node: key.id, name: 'pub' },
        tags: [tag],
        version: 5,
        created: 1,
      });
      return {
        wire: topicAdvertToWire(advert),
        advert,
        read: topicAdvertFromWire,
        verify: verifyTopicAdvert,
      };
    }),
    keyPair.map((key) => {
      const advert = signEngineAdvert(key, { name: 'kv', key: key.publicKey, version: 1, created: 1 });
      return {
        wire: engineAdvertToWire(advert),
        advert,
        read: engineAdvertFromWire,
        verify: verifyEngineAdvert,
      };
    }),
    keyPair.map((key) => {
      const advert = signNodeAdvert(key, {
        addrs: [{ url: 'quic://[::1]:9', weight: 1 }],
        version: 7,
        created: 1,
      });
      return {
        wire: nodeAdvertToWire(advert),
        advert,
        read: nodeAdvertFromWire,
        verify: verifyNodeAdvert,
      };
    }),
  );

  it.prop([signedAdverts, mutation])(
    'a damaged advert of any kind never verifies unless it decodes to the same advert',
    ({ wire, advert, read, verify }, m) => {
      const bytes = applyMutation(pack(wire), m);
      decodesOrRejects(
        () => (verify as (a: unknown) => unknown)((read as (v: unknown) => unknown)(unpack(bytes))),
        (verified) => expect(normalise(verified)).toEqual(normalise(advert)),
      );
    },
  );

  it.prop([keyPair, fc.nat(), fc.constantFrom(...'abcXYZ019-_'.split(''))])(
    'a node advert text with one character changed is refused or still the same advert',
    (key, at, replacement) => {
      const advert = signNodeAdvert(key, {
        addrs: [{ url: 'tls://h:1', weight: 1 }],
        version: 1,
        created: 1,
      });
      const text = formatNodeAdvert(advert);
      const index = at % text.length;
      const damaged = text.slice(0, index) + replacement + text.slice(index + 1);
      decodesOrRejects(
        () => parseNodeAdvert(damaged),
        (parsed) => expect(normalise(parsed)).toEqual(normalise(advert)),
      );
    },
  );
});
