import {
  type DomainAdvert,
  type DomainId,
  domainAdvertFromWire,
  domainAdvertToWire,
  type EngineAdvert,
  engineAdvertFromWire,
  engineAdvertToWire,
  expectArray,
  expectString,
  expectUint,
  isKeyText,
  type NodeAdvert,
  type NodeId,
  nodeAdvertFromWire,
  nodeAdvertToWire,
  pack,
  SchemaError,
  type TopicAdvert,
  type TopicId,
  topicAdvertFromWire,
  topicAdvertToWire,
  unpack,
  type VerifyOptions,
  verifyDomainAdvert,
  verifyEngineAdvert,
  verifyNodeAdvert,
  verifyTopicAdvert,
} from '@netmachine/core';
import {
  type LocalNodeState,
  MAX_TRANSPORT_NAME,
  MAX_TRANSPORT_PREFS,
  REPUTATION_MAX,
  REPUTATION_MIN,
  type RttEstimate,
  TRUST_MAX,
} from './records.js';

/**
 * The on-disk layout. One key space, one prefix per record kind; values are core's msgpack wire
 * forms, so a stored advert is byte-for-byte what travels on the network and is verified the same way.
 *
 *   n/<node>          NodeAdvert wire form
 *   e/<node>/<name>   EngineAdvert wire form
 *   t/<topic>         TopicAdvert wire form
 *   d/<domain>        DomainAdvert wire form
 *   l/<node>          local state: [format, trust, reputation, prefs|null, rtt|null]
 */
export const KEY_PREFIX = { node: 'n/', engine: 'e/', topic: 't/', domain: 'd/', local: 'l/' } as const;

export const nodeKey = (id: NodeId): string => KEY_PREFIX.node + id;
export const engineKey = (node: NodeId, name: string): string => `${KEY_PREFIX.engine}${node}/${name}`;
export const topicKey = (id: TopicId): string => KEY_PREFIX.topic + id;
export const domainKey = (id: DomainId): string => KEY_PREFIX.domain + id;
export const localKey = (id: NodeId): string => KEY_PREFIX.local + id;

const LOCAL_FORMAT = 1;

export const encodeNodeAdvert = (a: NodeAdvert): Uint8Array => pack(nodeAdvertToWire(a));
export const encodeEngineAdvert = (a: EngineAdvert): Uint8Array => pack(engineAdvertToWire(a));
export const encodeTopicAdvert = (a: TopicAdvert): Uint8Array => pack(topicAdvertToWire(a));
export const encodeDomainAdvert = (a: DomainAdvert): Uint8Array => pack(domainAdvertToWire(a));

export function encodeLocalState(s: LocalNodeState): Uint8Array {
  const rtt = s.rtt === undefined ? null : [s.rtt.smoothedMs, s.rtt.varianceMs, s.rtt.lastMs, s.rtt.samples];
  return pack([LOCAL_FORMAT, s.trust, s.reputation, s.transportPrefs ? [...s.transportPrefs] : null, rtt]);
}

/** One record read back from the backend, fully validated. */
export type DecodedRecord =
  | { readonly kind: 'node'; readonly advert: NodeAdvert }
  | { readonly kind: 'engine'; readonly advert: EngineAdvert }
  | { readonly kind: 'topic'; readonly advert: TopicAdvert }
  | { readonly kind: 'domain'; readonly advert: DomainAdvert }
  | { readonly kind: 'local'; readonly id: NodeId; readonly state: LocalNodeState };

/** The identity a key names; a record stored under another identity's key is forged. */
function idAfter(key: string, prefix: string): string {
  const id = key.slice(prefix.length);
  if (!isKeyText(id)) throw new SchemaError('key', `not a valid identity key: ${key.slice(0, 80)}`);
  return id;
}

function expectKeyMatches(key: string, expected: string): void {
  if (key !== expected)
    throw new SchemaError('key', `record stored under ${key.slice(0, 80)} names ${expected}`);
}

function expectFiniteNonNegative(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new SchemaError(path, 'expected a finite non-negative number');
  }
  return value;
}

export function decodeTransportPrefs(value: unknown, path: string): readonly string[] {
  return expectArray(value, path, 0, MAX_TRANSPORT_PREFS).map((p, i) =>
    expectString(p, `${path}[${i}]`, MAX_TRANSPORT_NAME, 1),
  );
}

function decodeLocalState(value: unknown): LocalNodeState {
  const v = expectArray(value, 'local', 5, 5);
  expectUint(v[0], 'local.format', LOCAL_FORMAT, LOCAL_FORMAT);
  const trust = expectUint(v[1], 'local.trust', TRUST_MAX);
  if (
    typeof v[2] !== 'number' ||
    !Number.isSafeInteger(v[2]) ||
    v[2] < REPUTATION_MIN ||
    v[2] > REPUTATION_MAX
  ) {
    throw new SchemaError('local.reputation', `expected an integer in ${REPUTATION_MIN}..${REPUTATION_MAX}`);
  }
  const transportPrefs = v[3] === null ? undefined : decodeTransportPrefs(v[3], 'local.prefs');
  let rtt: RttEstimate | undefined;
  if (v[4] !== null) {
    const r = expectArray(v[4], 'local.rtt', 4, 4);
    rtt = {
      smoothedMs: expectFiniteNonNegative(r[0], 'local.rtt.smoothed'),
      varianceMs: expectFiniteNonNegative(r[1], 'local.rtt.variance'),
      lastMs: expectFiniteNonNegative(r[2], 'local.rtt.last'),
      samples: expectUint(r[3], 'local.rtt.samples'),
    };
  }
  return { trust, reputation: v[2], transportPrefs, rtt };
}

/**
 * Decodes and re-verifies one stored record: shape, signature, and that the key names the signer.
 * Throws a typed core error for anything it would not accept from the network.
 */
export function decodeRecord(key: string, bytes: Uint8Array, verify: VerifyOptions): DecodedRecord {
  const value = unpack(bytes);
  if (key.startsWith(KEY_PREFIX.node)) {
    const advert = verifyNodeAdvert(nodeAdvertFromWire(value), verify);
    expectKeyMatches(key, nodeKey(advert.id));
    return { kind: 'node', advert };
  }
  if (key.startsWith(KEY_PREFIX.engine)) {
    const advert = verifyEngineAdvert(engineAdvertFromWire(value), verify);
    expectKeyMatches(key, engineKey(advert.node, advert.name));
    return { kind: 'engine', advert };
  }
  if (key.startsWith(KEY_PREFIX.topic)) {
    const advert = verifyTopicAdvert(topicAdvertFromWire(value), verify);
    expectKeyMatches(key, topicKey(advert.id));
    return { kind: 'topic', advert };
  }
  if (key.startsWith(KEY_PREFIX.domain)) {
    const advert = verifyDomainAdvert(domainAdvertFromWire(value), verify);
    expectKeyMatches(key, domainKey(advert.id));
    return { kind: 'domain', advert };
  }
  if (key.startsWith(KEY_PREFIX.local)) {
    return { kind: 'local', id: idAfter(key, KEY_PREFIX.local) as NodeId, state: decodeLocalState(value) };
  }
  throw new SchemaError('key', `unknown record kind: ${key.slice(0, 80)}`);
}
