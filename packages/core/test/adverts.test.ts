import { describe, expect, it } from 'vitest';
import {
  ADVERT_LIMITS,
  AdvertExpiredError,
  AdvertFromFutureError,
  assertNewerAdvert,
  type DomainAdvert,
  domainAdvertFromWire,
  domainAdvertToWire,
  type EngineAdvert,
  engineAdvertFromWire,
  engineAdvertToWire,
  formatNodeAdvert,
  InvalidIdentityError,
  InvalidSignatureError,
  isNewerAdvert,
  KeyPair,
  MAX_CLOCK_SKEW_MS,
  MalformedFrameError,
  type NodeAdvert,
  type NodeId,
  nodeAdvertFromWire,
  nodeAdvertToWire,
  pack,
  parseNodeAdvert,
  SchemaError,
  StaleAdvertError,
  signDomainAdvert,
  signEngineAdvert,
  signNodeAdvert,
  signTopicAdvert,
  type TopicAdvert,
  topicAdvertFromWire,
  topicAdvertToWire,
  unpack,
  verifyDomainAdvert,
  verifyEngineAdvert,
  verifyNodeAdvert,
  verifyTopicAdvert,
} from '../src/index.js';
import { normalise, thrown } from './helpers.js';

const NOW = 1_780_000_000_000;
const nodeKey = KeyPair.generate();
const topicKey = KeyPair.generate();
const domainKey = KeyPair.generate();
const engineKey = KeyPair.generate();
const otherKey = KeyPair.generate();

const nodeAdvert = signNodeAdvert(nodeKey, {
  addrs: [
    { url: 'tls://127.0.0.1:7100', weight: 10 },
    { url: 'quic://[::1]:7101', weight: 255 },
  ],
  version: 3,
  created: NOW,
  name: 'alpha',
});
const topicAdvert = signTopicAdvert(topicKey, {
  publisher: { node: nodeKey.id, name: 'news' },
  tags: ['weather', 'eu'],
  version: 1,
  created: NOW,
});
const domainAdvert = signDomainAdvert(domainKey, {
  name: 'research',
  policy: { kind: 'invite', admins: [otherKey.id] },
  nodes: [nodeKey.id, otherKey.id],
  protocols: ['search'],
  version: 9,
  created: NOW,
});
const engineAdvert = signEngineAdvert(nodeKey, {
  name: 'kv',
  key: engineKey.publicKey,
  version: 2,
  created: NOW,
});

const flipped = (sig: Uint8Array, index = 0): Uint8Array => {
  const copy = new Uint8Array(sig);
  copy[index]! ^= 1;
  return copy;
};
/** Through the real byte form: wire array → msgpack → wire array. */
const viaBytes = (wire: unknown[]): unknown => unpack(pack(wire));

interface Kind<A extends { version: number; created: number; sig: Uint8Array }> {
  advert: A;
  toWire: (a: A) => unknown[];
  fromWire: (value: unknown) => A;
  verify: (a: A, options?: { now?: number; maxClockSkewMs?: number; maxAgeMs?: number }) => A;
  mutations: Array<[string, (a: A) => A]>;
}

// biome-ignore lint/suspicious/noExplicitAny: a table of four advert kinds; each entry is checked by `satisfies`.
const kinds: { [K in 'node' | 'topic' | 'domain' | 'engine']: Kind<any> } = {
  node: {
    advert: nodeAdvert,
    toWire: nodeAdvertToWire,
    fromWire: nodeAdvertFromWire,
    verify: verifyNodeAdvert,
    mutations: [
      ['version', (a: NodeAdvert) => ({ ...a, version: a.version + 1 })],
      ['created', (a: NodeAdvert) => ({ ...a, created: a.created - 1 })],
      ['an address', (a: NodeAdvert) => ({ ...a, addrs: [{ url: 'tls://10.0.0.1:1', weight: 10 }] })],
      ['a weight', (a: NodeAdvert) => ({ ...a, addrs: a.addrs.map((x) => ({ ...x, weight: 1 })) })],
      ['the name', (a: NodeAdvert) => ({ ...a, name: 'beta' })],
      ['the name removed', (a: NodeAdvert) => ({ ...a, name: undefined })],
      ['the id', (a: NodeAdvert) => ({ ...a, id: otherKey.id })],
    ],
  } satisfies Kind<NodeAdvert>,
  topic: {
    advert: topicAdvert,
    toWire: topicAdvertToWire,
    fromWire: topicAdvertFromWire,
    verify: verifyTopicAdvert,
    mutations: [
      ['version', (a: TopicAdvert) => ({ ...a, version: a.version + 1 })],
      ['created', (a: TopicAdvert) => ({ ...a, created: a.created + 1 })],
      ['the publisher name', (a: TopicAdvert) => ({ ...a, publisher: { ...a.publisher, name: 'evil' } })],
      [
        'the publisher node',
        (a: TopicAdvert) => ({ ...a, publisher: { ...a.publisher, node: otherKey.id } }),
      ],
      ['the tags', (a: TopicAdvert) => ({ ...a, tags: ['weather'] })],
    ],
  } satisfies Kind<TopicAdvert>,
  domain: {
    advert: domainAdvert,
    toWire: domainAdvertToWire,
    fromWire: domainAdvertFromWire,
    verify: verifyDomainAdvert,
    mutations: [
      ['version', (a: DomainAdvert) => ({ ...a, version: 0 })],
      ['the member list', (a: DomainAdvert) => ({ ...a, nodes: a.nodes.slice(1) })],
      ['the member order', (a: DomainAdvert) => ({ ...a, nodes: [...a.nodes].reverse() })],
    ],
  } satisfies Kind<DomainAdvert>,
  engine: {
    advert: engineAdvert,
    toWire: engineAdvertToWire,
    fromWire: engineAdvertFromWire,
    verify: verifyEngineAdvert,
    mutations: [
      ['version', (a: EngineAdvert) => ({ ...a, version: 1 })],
      ['the name', (a: EngineAdvert) => ({ ...a, name: 'kv2' })],
      ['the engine key', (a: EngineAdvert) => ({ ...a, key: otherKey.publicKey })],
      ['the engine key removed', (a: EngineAdvert) => ({ ...a, key: undefined })],
      ['the node', (a: EngineAdvert) => ({ ...a, node: otherKey.id })],
    ],
  } satisfies Kind<EngineAdvert>,
};

describe.each(Object.entries(kinds))('%s adverts', (_name, kind) => {
  it('verify after a round trip through bytes and come back equal', () => {
    const decoded = kind.fromWire(viaBytes(kind.toWire(kind.advert)));
    expect(normalise(decoded)).toEqual(normalise(kind.advert));
    expect(kind.verify(decoded, { now: NOW })).toBe(decoded);
  });

  it('reject a signature with one bit flipped', () => {
    for (const index of [0, 31, 63]) {
      const bad = { ...kind.advert, sig: flipped(kind.advert.sig, index) };
      expect(() => kind.verify(bad, { now: NOW })).toThrow(InvalidSignatureError);
    }
  });

  it.each(kind.mutations)('reject a change of %s after signing', (_field, mutate) => {
    const error = thrown(() => kind.verify(mutate(kind.advert), { now: NOW }));
    expect(error).toBeInstanceOf(InvalidSignatureError);
    expect((error as InvalidSignatureError).code).toBe('ERR_INVALID_SIGNATURE');
  });

  it('reject an advert from beyond the allowed clock skew, accept one within it', () => {
    const created = kind.advert.created;
    expect(kind.verify(kind.advert, { now: created - MAX_CLOCK_SKEW_MS })).toBe(kind.advert);
    expect(() => kind.verify(kind.advert, { now: created - MAX_CLOCK_SKEW_MS - 1 })).toThrow(
      AdvertFromFutureError,
    );
    expect(() => kind.verify(kind.advert, { now: created - 10, maxClockSkewMs: 5 })).toThrow(
      AdvertFromFutureError,
    );
  });

  it('reject an expired advert when a maximum age is given', () => {
    const created = kind.advert.created;
    expect(kind.verify(kind.advert, { now: created + 60_000, maxAgeMs: 60_000 })).toBe(kind.advert);
    const error = thrown(() => kind.verify(kind.advert, { now: created + 60_001, maxAgeMs: 60_000 }));
    expect(error).toBeInstanceOf(AdvertExpiredError);
    expect(error).toMatchObject({ code: 'ERR_ADVERT_EXPIRED', created, maxAgeMs: 60_000 });
    // Without maxAgeMs an old advert is still accepted: age limits are the caller's policy.
    expect(kind.verify(kind.advert, { now: created + 10 * 365 * 86_400_000 })).toBe(kind.advert);
  });

  it('check the signature before the clock', () => {
    const bad = { ...kind.advert, sig: flipped(kind.advert.sig) };
    expect(() => kind.verify(bad, { now: 0 })).toThrow(InvalidSignatureError);
  });

  it('reject a lower or equal version than the stored one', () => {
    const older = { ...kind.advert, version: kind.advert.version - 1 };
    expect(assertNewerAdvert('x', kind.advert, older)).toBe(kind.advert);
    expect(() => assertNewerAdvert('x', older, kind.advert)).toThrow(StaleAdvertError);
    expect(() => assertNewerAdvert('x', kind.advert, kind.advert)).toThrow(StaleAdvertError);
  });

  it('reject wire forms with the wrong length or a non-array', () => {
    const wire = kind.toWire(kind.advert);
    for (const bad of [wire.slice(0, -1), [...wire, null], {}, 'advert', null, 42]) {
      expect(() => kind.fromWire(bad)).toThrow(SchemaError);
    }
  });

  it('reject a wire form whose every field in turn has the wrong type', () => {
    const wire = kind.toWire(kind.advert);
    const shape = (v: unknown) => (v instanceof Uint8Array ? 'bytes' : Array.isArray(v) ? 'array' : typeof v);
    for (let i = 0; i < wire.length; i++) {
      // Optional fields (null here) accept more than one shape; they get their own tests.
      if (wire[i] === null) continue;
      for (const wrong of [{ x: 1 }, -1, 'nope', new Uint8Array(3), true, [1]]) {
        // Another value of the same kind may well be valid (bytes are the exception: the length is fixed).
        if (shape(wrong) === shape(wire[i]) && shape(wrong) !== 'bytes') continue;
        const bad = [...wire];
        bad[i] = wrong;
        const error = thrown(() => kind.fromWire(bad));
        expect(error, `field ${i} = ${String(wrong)}`).toBeInstanceOf(SchemaError);
      }
    }
  });

  it('reject a signature of the wrong length', () => {
    const wire = kind.toWire(kind.advert);
    wire[wire.length - 1] = new Uint8Array(63);
    expect(() => kind.fromWire(wire)).toThrow(SchemaError);
  });

  it('name the offending field in the schema error', () => {
    const wire = kind.toWire(kind.advert);
    wire[0] = new Uint8Array(31);
    const error = thrown(() => kind.fromWire(wire)) as SchemaError;
    expect(error).toBeInstanceOf(SchemaError);
    expect(error.path).toMatch(/Advert\.(id|node)$/);
  });
});

describe('optional advert fields', () => {
  // The node advert's name (index 4) and the engine advert's key (index 2) may be null, nothing else.
  it.each([
    ['node advert name', () => nodeAdvertToWire(nodeAdvert), 4, nodeAdvertFromWire],
    ['engine advert key', () => engineAdvertToWire(engineAdvert), 2, engineAdvertFromWire],
  ] as const)('reject a %s of the wrong type', (_label, wireOf, index, fromWire) => {
    const absent = [...wireOf()];
    absent[index] = null;
    expect(() => fromWire(absent)).not.toThrow();
    for (const wrong of [{ x: 1 }, -1, true, new Uint8Array(3), 'x'.repeat(65)]) {
      const bad = [...wireOf()];
      bad[index] = wrong;
      expect(thrown(() => fromWire(bad))).toBeInstanceOf(SchemaError);
    }
  });
});

describe('node advert fields', () => {
  const base = { addrs: [{ url: 'tls://127.0.0.1:1', weight: 1 }], version: 1, created: NOW };

  it('signs adverts at the limits', () => {
    const addrs = Array.from({ length: ADVERT_LIMITS.addrs }, (_, i) => ({
      url: `tls://127.0.0.1:${7000 + i}`,
      weight: i,
    }));
    const advert = signNodeAdvert(nodeKey, { ...base, addrs, name: 'n'.repeat(ADVERT_LIMITS.nameLength) });
    expect(verifyNodeAdvert(advert, { now: NOW })).toBe(advert);
    expect(signNodeAdvert(nodeKey, { ...base, addrs: [] }).addrs).toEqual([]);
  });

  it.each([
    ['too many addresses', { addrs: Array.from({ length: 17 }, () => base.addrs[0]!) }],
    ['a weight above 255', { addrs: [{ url: 'tls://a:1', weight: 256 }] }],
    ['a negative weight', { addrs: [{ url: 'tls://a:1', weight: -1 }] }],
    ['a fractional weight', { addrs: [{ url: 'tls://a:1', weight: 1.5 }] }],
    ['a URL without a scheme', { addrs: [{ url: '127.0.0.1:7100', weight: 1 }] }],
    ['a URL with spaces', { addrs: [{ url: 'tls://a b:1', weight: 1 }] }],
    ['an empty URL', { addrs: [{ url: '', weight: 1 }] }],
    ['an over-long URL', { addrs: [{ url: `tls://${'a'.repeat(260)}`, weight: 1 }] }],
    ['a negative version', { version: -1 }],
    ['an unsafe version', { version: 2 ** 53 }],
    ['a fractional created', { created: 1.5 }],
    ['an over-long name', { name: 'n'.repeat(65) }],
  ])('refuses to sign %s', (_label, change) => {
    expect(() => signNodeAdvert(nodeKey, { ...base, ...change } as never)).toThrow(SchemaError);
  });
});

describe('topic, domain and engine advert fields', () => {
  it('refuse bad publishers, tags, members and engine keys', () => {
    const publisher = { node: nodeKey.id, name: 'news' };
    const t = { publisher, tags: [], version: 1, created: NOW };
    const d = {
      name: 'd',
      policy: { kind: 'open' as const },
      nodes: [],
      protocols: [],
      version: 1,
      created: NOW,
    };
    expect(() => signTopicAdvert(topicKey, { ...t, publisher: { ...publisher, name: 'bad name' } })).toThrow(
      SchemaError,
    );
    expect(() => signTopicAdvert(topicKey, { ...t, tags: Array(33).fill('x') })).toThrow(SchemaError);
    expect(() => signTopicAdvert(topicKey, { ...t, tags: ['x'.repeat(65)] })).toThrow(SchemaError);
    expect(() =>
      signTopicAdvert(topicKey, { ...t, publisher: { ...publisher, node: 'bad' as NodeId } }),
    ).toThrow(InvalidIdentityError);
    expect(() => signDomainAdvert(domainKey, { ...d, nodes: ['bad' as NodeId] })).toThrow(
      InvalidIdentityError,
    );
    expect(() =>
      signDomainAdvert(domainKey, { ...d, nodes: Array(ADVERT_LIMITS.domainNodes + 1).fill(nodeKey.id) }),
    ).toThrow(SchemaError);
    expect(() =>
      signEngineAdvert(nodeKey, { name: 'kv', key: new Uint8Array(31), version: 1, created: NOW }),
    ).toThrow(SchemaError);
    expect(() => signEngineAdvert(nodeKey, { name: '', version: 1, created: NOW })).toThrow(SchemaError);
  });

  it('sign an engine advert without an engine key', () => {
    const advert = signEngineAdvert(nodeKey, { name: 'plain', version: 1, created: NOW });
    const decoded = engineAdvertFromWire(viaBytes(engineAdvertToWire(advert)));
    expect(decoded.key).toBeUndefined();
    expect(verifyEngineAdvert(decoded, { now: NOW })).toBe(decoded);
  });

  it('never let a signature over one kind pass as another', () => {
    // A topic key signing "node advert" fields: same key, other label, so it must not verify as a node advert.
    const asTopic = signTopicAdvert(topicKey, {
      publisher: { node: topicKey.id, name: 'x' },
      tags: [],
      version: 1,
      created: NOW,
    });
    const forged: NodeAdvert = {
      id: topicKey.id,
      addrs: [],
      version: 1,
      created: NOW,
      sig: asTopic.sig,
    };
    expect(() => verifyNodeAdvert(forged, { now: NOW })).toThrow(InvalidSignatureError);
  });
});

describe('advert freshness', () => {
  it('treats a missing or zero known version as older', () => {
    expect(isNewerAdvert(nodeAdvert, undefined)).toBe(true);
    expect(isNewerAdvert(nodeAdvert, 0)).toBe(true);
    expect(assertNewerAdvert('node', nodeAdvert, undefined)).toBe(nodeAdvert);
  });

  it('compares against a stored advert or a bare version number', () => {
    expect(isNewerAdvert({ version: 4 }, { version: 3 })).toBe(true);
    expect(isNewerAdvert({ version: 3 }, { version: 3 })).toBe(false);
    expect(isNewerAdvert({ version: 2 }, 3)).toBe(false);
    const error = thrown(() => assertNewerAdvert('node', { version: 2 }, 3));
    expect(error).toBeInstanceOf(StaleAdvertError);
    expect(error).toMatchObject({ code: 'ERR_STALE_ADVERT', kind: 'node', version: 2, known: 3 });
  });
});

describe('node advert text form', () => {
  it('formats one line and parses it back, verified', () => {
    const text = formatNodeAdvert(nodeAdvert);
    expect(text).toMatch(/^nmadvert1\.[A-Za-z0-9_-]+$/);
    expect(parseNodeAdvert(text, { now: NOW })).toEqual(nodeAdvert);
    expect(parseNodeAdvert(`  ${text}\n`, { now: NOW })).toEqual(nodeAdvert);
  });

  it.each([
    ['empty', ''],
    ['no prefix', 'hello'],
    ['wrong prefix', `nmadvert2.${formatNodeAdvert(nodeAdvert).slice(10)}`],
    ['prefix only', 'nmadvert1.'],
    ['characters outside base64url', 'nmadvert1.abc+/='],
    ['space inside', 'nmadvert1.abc def'],
    ['too long', `nmadvert1.${'A'.repeat(20_000)}`],
    ['not msgpack', `nmadvert1.${Buffer.from([0xc1, 0xc1]).toString('base64url')}`],
    ['truncated', formatNodeAdvert(nodeAdvert).slice(0, 40)],
  ])('rejects garbage (%s) with MalformedFrameError', (_label, text) => {
    expect(() => parseNodeAdvert(text, { now: NOW })).toThrow(MalformedFrameError);
  });

  it('rejects a non-string', () => {
    expect(() => parseNodeAdvert(undefined as unknown as string)).toThrow(MalformedFrameError);
  });

  it('rejects msgpack of the wrong shape with SchemaError', () => {
    const text = `nmadvert1.${pack([1, 2, 3]).toString('base64url')}`;
    expect(() => parseNodeAdvert(text, { now: NOW })).toThrow(SchemaError);
  });

  it('rejects a tampered advert and one from the future', () => {
    const tampered = formatNodeAdvert({ ...nodeAdvert, version: 99 });
    expect(() => parseNodeAdvert(tampered, { now: NOW })).toThrow(InvalidSignatureError);
    expect(() => parseNodeAdvert(formatNodeAdvert(nodeAdvert), { now: NOW - 3_600_000 })).toThrow(
      AdvertFromFutureError,
    );
  });
});
