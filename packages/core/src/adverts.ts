import { pack, unpack } from './codec.js';
import { AdvertFromFutureError, InvalidSignatureError, MalformedFrameError, SchemaError } from './errors.js';
import { AdvertExpiredError } from './freshness.js';
import {
  type DomainId,
  domainIdFromBytes,
  type EngineAddress,
  identityBytes,
  isEngineName,
  KEY_BYTES,
  type NodeId,
  nodeIdFromBytes,
  type TopicId,
  topicIdFromBytes,
} from './identity.js';
import { type KeyPair, SIGNATURE_BYTES, verifySignature } from './keys.js';
import { expectArray, expectBytes, expectString, expectUint, optional } from './validate.js';

/** A transport address with its preference weight (0–255, higher is preferred). */
export interface AdvertisedAddress {
  readonly url: string;
  readonly weight: number;
}

/** A node's signed statement of where it can be reached. `version` grows on every change. */
export interface NodeAdvert {
  readonly id: NodeId;
  readonly addrs: readonly AdvertisedAddress[];
  readonly version: number;
  /** Milliseconds since the Unix epoch. */
  readonly created: number;
  readonly name?: string | undefined;
  readonly sig: Uint8Array;
}

/** A topic's advert, signed by the topic key, naming the one engine allowed to publish (v1). */
export interface TopicAdvert {
  readonly id: TopicId;
  readonly publisher: EngineAddress;
  readonly tags: readonly string[];
  readonly version: number;
  readonly created: number;
  readonly sig: Uint8Array;
}

/**
 * Who may join a domain:
 * - `open`: any node;
 * - `invite`: a node holding an invite token signed by the domain key or one of `admins`;
 * - `allow`: the nodes listed;
 * - `secret`: a node that proves it knows a shared secret (an HMAC over a fresh challenge; the secret
 *   never crosses the wire).
 */
export type JoinPolicy =
  | { readonly kind: 'open' }
  | { readonly kind: 'invite'; readonly admins: readonly NodeId[] }
  | { readonly kind: 'allow'; readonly nodes: readonly NodeId[] }
  | { readonly kind: 'secret' };

/**
 * A domain's advert, signed by the domain key: its name, join policy, seed members (`nodes`: members
 * that serve external requests and admit joiners), the protocols (engine names) the domain runs.
 */
export interface DomainAdvert {
  readonly id: DomainId;
  readonly name: string;
  readonly policy: JoinPolicy;
  readonly nodes: readonly NodeId[];
  readonly protocols: readonly string[];
  readonly version: number;
  readonly created: number;
  readonly sig: Uint8Array;
}

/** Binds an engine name (and optionally the engine's own key) to a node; signed by the node. */
export interface EngineAdvert {
  readonly node: NodeId;
  readonly name: string;
  readonly key?: Uint8Array | undefined;
  readonly version: number;
  readonly created: number;
  readonly sig: Uint8Array;
}

export const ADVERT_LIMITS = {
  addrs: 16,
  urlLength: 256,
  tags: 32,
  tagLength: 64,
  nameLength: 64,
  domainNodes: 1024,
  domainProtocols: 64,
} as const;

/** Adverts dated further ahead than this are refused: clocks differ, but not by hours. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

// Domain-separation labels: a signature over one kind can never pass as another.
const NODE_LABEL = 'netmachine/node-advert/v1';
const TOPIC_LABEL = 'netmachine/topic-advert/v1';
const DOMAIN_LABEL = 'netmachine/domain-advert/v2';
const ENGINE_LABEL = 'netmachine/engine-advert/v1';

// --- node adverts -------------------------------------------------------

type Unsigned<T> = Omit<T, 'sig'>;

function nodeAdvertFields(a: Unsigned<NodeAdvert>): unknown[] {
  return [identityBytes(a.id), a.addrs.map((x) => [x.url, x.weight]), a.version, a.created, a.name ?? null];
}

export function signNodeAdvert(key: KeyPair, fields: Omit<Unsigned<NodeAdvert>, 'id'>): NodeAdvert {
  const unsigned = { ...fields, id: key.id };
  checkNodeAdvertFields(nodeAdvertFields(unsigned), 'nodeAdvert');
  return { ...unsigned, sig: key.sign(pack([NODE_LABEL, ...nodeAdvertFields(unsigned)])) };
}

/** Wire form: `[id, [[url, weight]…], version, created, name|null, sig]`. */
export function nodeAdvertToWire(a: NodeAdvert): unknown[] {
  return [...nodeAdvertFields(a), a.sig];
}

function checkNodeAdvertFields(v: unknown[], path: string): NodeAdvert {
  const id = nodeIdFromBytes(expectBytes(v[0], `${path}.id`, KEY_BYTES));
  const rawAddrs = expectArray(v[1], `${path}.addrs`, 0, ADVERT_LIMITS.addrs);
  const addrs = rawAddrs.map((entry, i) => {
    const pair = expectArray(entry, `${path}.addrs[${i}]`, 2, 2);
    const url = expectString(pair[0], `${path}.addrs[${i}].url`, ADVERT_LIMITS.urlLength, 1);
    if (!/^[a-z][a-z0-9+.-]*:\/\/\S+$/.test(url))
      throw new SchemaError(`${path}.addrs[${i}].url`, 'expected a URL');
    return { url, weight: expectUint(pair[1], `${path}.addrs[${i}].weight`, 255) };
  });
  const version = expectUint(v[2], `${path}.version`);
  const created = expectUint(v[3], `${path}.created`);
  const name = optional(v[4], (x) => expectString(x, `${path}.name`, ADVERT_LIMITS.nameLength));
  return { id, addrs, version, created, name, sig: v[5] as Uint8Array };
}

/** Validates the shape of a wire node advert (not its signature: see verifyNodeAdvert). */
export function nodeAdvertFromWire(value: unknown, path = 'nodeAdvert'): NodeAdvert {
  const v = expectArray(value, path, 6, 6);
  const advert = checkNodeAdvertFields(v, path);
  expectBytes(v[5], `${path}.sig`, SIGNATURE_BYTES);
  return advert;
}

export interface VerifyOptions {
  /** Current time (ms); defaults to Date.now(). */
  now?: number;
  /** Refuse adverts created more than this many ms in the future. */
  maxClockSkewMs?: number;
  /** Refuse adverts created more than this many ms ago; no age limit when absent. */
  maxAgeMs?: number;
}

function checkCreated(kind: string, created: number, options: VerifyOptions): void {
  const now = options.now ?? Date.now();
  if (created > now + (options.maxClockSkewMs ?? MAX_CLOCK_SKEW_MS))
    throw new AdvertFromFutureError(kind, created);
  if (options.maxAgeMs !== undefined && created < now - options.maxAgeMs)
    throw new AdvertExpiredError(kind, created, options.maxAgeMs);
}

/** Throws InvalidSignatureError unless the advert is signed by the node it advertises. */
export function verifyNodeAdvert(a: NodeAdvert, options: VerifyOptions = {}): NodeAdvert {
  const payload = pack([NODE_LABEL, ...nodeAdvertFields(a)]);
  if (!verifySignature(identityBytes(a.id), payload, a.sig))
    throw new InvalidSignatureError(`node advert of ${a.id}`);
  checkCreated('node', a.created, options);
  return a;
}

const ADVERT_TEXT_PREFIX = 'nmadvert1.';

/** One pasteable line: `nmadvert1.` + base64url(msgpack wire form). */
export function formatNodeAdvert(a: NodeAdvert): string {
  return ADVERT_TEXT_PREFIX + pack(nodeAdvertToWire(a)).toString('base64url');
}

/** Parses and verifies the text form of a node advert. */
export function parseNodeAdvert(text: string, options: VerifyOptions = {}): NodeAdvert {
  const trimmed = typeof text === 'string' ? text.trim() : '';
  if (!trimmed.startsWith(ADVERT_TEXT_PREFIX) || trimmed.length > 16_384) {
    throw new MalformedFrameError(`a node advert starts with ${ADVERT_TEXT_PREFIX}`);
  }
  const body = trimmed.slice(ADVERT_TEXT_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw new MalformedFrameError('a node advert is base64url text');
  return verifyNodeAdvert(nodeAdvertFromWire(unpack(Buffer.from(body, 'base64url'))), options);
}

// --- topic adverts ------------------------------------------------------

function topicAdvertFields(a: Unsigned<TopicAdvert>): unknown[] {
  return [
    identityBytes(a.id),
    [identityBytes(a.publisher.node), a.publisher.name],
    [...a.tags],
    a.version,
    a.created,
  ];
}

export function signTopicAdvert(topicKey: KeyPair, fields: Omit<Unsigned<TopicAdvert>, 'id'>): TopicAdvert {
  const unsigned = { ...fields, id: topicKey.topicId };
  checkTopicAdvertFields(topicAdvertFields(unsigned), 'topicAdvert');
  return { ...unsigned, sig: topicKey.sign(pack([TOPIC_LABEL, ...topicAdvertFields(unsigned)])) };
}

export function topicAdvertToWire(a: TopicAdvert): unknown[] {
  return [...topicAdvertFields(a), a.sig];
}

function checkTopicAdvertFields(v: unknown[], path: string): TopicAdvert {
  const id = topicIdFromBytes(expectBytes(v[0], `${path}.id`, KEY_BYTES));
  const pub = expectArray(v[1], `${path}.publisher`, 2, 2);
  const publisherNode = nodeIdFromBytes(expectBytes(pub[0], `${path}.publisher.node`, KEY_BYTES));
  if (!isEngineName(pub[1])) throw new SchemaError(`${path}.publisher.name`, 'expected an engine name');
  const tags = expectArray(v[2], `${path}.tags`, 0, ADVERT_LIMITS.tags).map((t, i) =>
    expectString(t, `${path}.tags[${i}]`, ADVERT_LIMITS.tagLength),
  );
  const version = expectUint(v[3], `${path}.version`);
  const created = expectUint(v[4], `${path}.created`);
  return {
    id,
    publisher: { node: publisherNode, name: pub[1] },
    tags,
    version,
    created,
    sig: v[5] as Uint8Array,
  };
}

export function topicAdvertFromWire(value: unknown, path = 'topicAdvert'): TopicAdvert {
  const v = expectArray(value, path, 6, 6);
  const advert = checkTopicAdvertFields(v, path);
  expectBytes(v[5], `${path}.sig`, SIGNATURE_BYTES);
  return advert;
}

export function verifyTopicAdvert(a: TopicAdvert, options: VerifyOptions = {}): TopicAdvert {
  const payload = pack([TOPIC_LABEL, ...topicAdvertFields(a)]);
  if (!verifySignature(identityBytes(a.id), payload, a.sig))
    throw new InvalidSignatureError(`topic advert of ${a.id}`);
  checkCreated('topic', a.created, options);
  return a;
}

// --- domain adverts -----------------------------------------------------

const JOIN_POLICY_KINDS = ['open', 'invite', 'allow', 'secret'] as const;

function joinPolicyToWire(p: JoinPolicy): unknown[] {
  switch (p.kind) {
    case 'invite':
      return [p.kind, p.admins.map(identityBytes)];
    case 'allow':
      return [p.kind, p.nodes.map(identityBytes)];
    default:
      return [p.kind, []];
  }
}

function joinPolicyFromWire(value: unknown, path: string): JoinPolicy {
  const v = expectArray(value, path, 2, 2);
  const kind = expectString(v[0], `${path}.kind`, 16);
  if (!(JOIN_POLICY_KINDS as readonly string[]).includes(kind))
    throw new SchemaError(`${path}.kind`, `expected one of ${JOIN_POLICY_KINDS.join(', ')}`);
  const nodes = expectArray(v[1], `${path}.nodes`, 0, ADVERT_LIMITS.domainNodes).map((n, i) =>
    nodeIdFromBytes(expectBytes(n, `${path}.nodes[${i}]`, KEY_BYTES)),
  );
  if (kind === 'invite') return { kind, admins: nodes };
  if (kind === 'allow') return { kind, nodes };
  if (nodes.length > 0) throw new SchemaError(`${path}.nodes`, `a ${kind} policy lists no nodes`);
  return kind === 'open' ? { kind } : { kind: 'secret' };
}

function domainAdvertFields(a: Unsigned<DomainAdvert>): unknown[] {
  return [
    identityBytes(a.id),
    a.name,
    joinPolicyToWire(a.policy),
    a.nodes.map(identityBytes),
    [...a.protocols],
    a.version,
    a.created,
  ];
}

export function signDomainAdvert(
  domainKey: KeyPair,
  fields: Omit<Unsigned<DomainAdvert>, 'id'>,
): DomainAdvert {
  const unsigned = { ...fields, id: domainKey.domainId };
  checkDomainAdvertFields(domainAdvertFields(unsigned), 'domainAdvert');
  return { ...unsigned, sig: domainKey.sign(pack([DOMAIN_LABEL, ...domainAdvertFields(unsigned)])) };
}

/** Wire form: `[id, name, [policy, [node…]], [seed…], [protocol…], version, created, sig]`. */
export function domainAdvertToWire(a: DomainAdvert): unknown[] {
  return [...domainAdvertFields(a), a.sig];
}

function checkDomainAdvertFields(v: unknown[], path: string): DomainAdvert {
  const id = domainIdFromBytes(expectBytes(v[0], `${path}.id`, KEY_BYTES));
  const name = expectString(v[1], `${path}.name`, ADVERT_LIMITS.nameLength);
  const policy = joinPolicyFromWire(v[2], `${path}.policy`);
  const nodes = expectArray(v[3], `${path}.nodes`, 0, ADVERT_LIMITS.domainNodes).map((n, i) =>
    nodeIdFromBytes(expectBytes(n, `${path}.nodes[${i}]`, KEY_BYTES)),
  );
  const protocols = expectArray(v[4], `${path}.protocols`, 0, ADVERT_LIMITS.domainProtocols).map((p, i) => {
    if (!isEngineName(p)) throw new SchemaError(`${path}.protocols[${i}]`, 'expected an engine name');
    return p;
  });
  const version = expectUint(v[5], `${path}.version`);
  const created = expectUint(v[6], `${path}.created`);
  return { id, name, policy, nodes, protocols, version, created, sig: v[7] as Uint8Array };
}

export function domainAdvertFromWire(value: unknown, path = 'domainAdvert'): DomainAdvert {
  const v = expectArray(value, path, 8, 8);
  const advert = checkDomainAdvertFields(v, path);
  expectBytes(v[7], `${path}.sig`, SIGNATURE_BYTES);
  return advert;
}
export function verifyDomainAdvert(a: DomainAdvert, options: VerifyOptions = {}): DomainAdvert {
  const payload = pack([DOMAIN_LABEL, ...domainAdvertFields(a)]);
  if (!verifySignature(identityBytes(a.id), payload, a.sig))
    throw new InvalidSignatureError(`domain advert of ${a.id}`);
  checkCreated('domain', a.created, options);
  return a;
}

// --- engine adverts -----------------------------------------------------

function engineAdvertFields(a: Unsigned<EngineAdvert>): unknown[] {
  return [identityBytes(a.node), a.name, a.key ?? null, a.version, a.created];
}

/** Signed by the node that hosts the engine. */
export function signEngineAdvert(
  nodeKey: KeyPair,
  fields: Omit<Unsigned<EngineAdvert>, 'node'>,
): EngineAdvert {
  const unsigned = { ...fields, node: nodeKey.id };
  checkEngineAdvertFields(engineAdvertFields(unsigned), 'engineAdvert');
  return { ...unsigned, sig: nodeKey.sign(pack([ENGINE_LABEL, ...engineAdvertFields(unsigned)])) };
}

export function engineAdvertToWire(a: EngineAdvert): unknown[] {
  return [...engineAdvertFields(a), a.sig];
}

function checkEngineAdvertFields(v: unknown[], path: string): EngineAdvert {
  const node = nodeIdFromBytes(expectBytes(v[0], `${path}.node`, KEY_BYTES));
  if (!isEngineName(v[1])) throw new SchemaError(`${path}.name`, 'expected an engine name');
  const key = optional(v[2], (x) => expectBytes(x, `${path}.key`, KEY_BYTES));
  const version = expectUint(v[3], `${path}.version`);
  const created = expectUint(v[4], `${path}.created`);
  return { node, name: v[1], key, version, created, sig: v[5] as Uint8Array };
}

export function engineAdvertFromWire(value: unknown, path = 'engineAdvert'): EngineAdvert {
  const v = expectArray(value, path, 6, 6);
  const advert = checkEngineAdvertFields(v, path);
  expectBytes(v[5], `${path}.sig`, SIGNATURE_BYTES);
  return advert;
}

export function verifyEngineAdvert(a: EngineAdvert, options: VerifyOptions = {}): EngineAdvert {
  const payload = pack([ENGINE_LABEL, ...engineAdvertFields(a)]);
  if (!verifySignature(identityBytes(a.node), payload, a.sig)) {
    throw new InvalidSignatureError(`engine advert of ${a.name}@${a.node}`);
  }
  checkCreated('engine', a.created, options);
  return a;
}
