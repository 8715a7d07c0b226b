import { type PeerId, ProtocolDecodeError } from '@netmachine/overlay';

// The wire messages of the inter-domain discovery machines (TAPS, TAC, domain routing) and their strict
// decoder. Every machine's messages are plain objects with a distinct `type`, so one decoder serves the
// composite machine that runs all three on one link.

/** The composite protocol's name and version on the wire. */
export const DISCOVERY_PROTOCOL = 'discovery/1';

/** Limits the decoder enforces on everything that comes from the wire. */
export const DISCOVERY_LIMITS = {
  /** Longest peer id accepted (a node id in text form is 52 characters). */
  maxPeerIdLength: 128,
  /** Largest domain filter (bytes): 8192 bits. */
  maxFilterBytes: 1024,
  /** Largest signature (bytes). */
  maxSignatureBytes: 128,
  /** Oldest entry age accepted (gossip periods). */
  maxAge: 1024,
  /** Most entries in one exchange message. */
  maxEntries: 32,
  /** Most members in one lookup answer. */
  maxMembers: 16,
  /** Longest lookup path (hops, the origin included). */
  maxPath: 64,
  /** Longest lookup id and domain name. */
  maxNameLength: 256,
} as const;

/**
 * One sampled peer as it travels in gossip: its id, its domain filter (a randomized Bloom filter of its
 * domains, packed bits) and the signature that binds them (an advert, in real life), with the entry's age
 * in gossip periods. The signature is checked by the node's `verify` hook.
 */
export interface PeerEntry {
  readonly peer: PeerId;
  readonly filter: Uint8Array;
  readonly signature: Uint8Array;
  readonly age: number;
}

/** TAPS: an exchange offer (the initiator's fresh entry and a sample of its view). */
export interface ShuffleMessage {
  readonly type: 'shuffle';
  readonly entries: readonly PeerEntry[];
}

/** TAPS: the answer to `shuffle`, a sample of the responder's view. */
export interface ShuffleReplyMessage {
  readonly type: 'shuffleReply';
  readonly entries: readonly PeerEntry[];
}

/** TAC: a clustering exchange (the initiator's entry, its cluster view and a few candidates). */
export interface ClusterMessage {
  readonly type: 'cluster';
  readonly entries: readonly PeerEntry[];
}

/** TAC: the answer to `cluster`: the entries the responder holds that are closest to the initiator. */
export interface ClusterReplyMessage {
  readonly type: 'clusterReply';
  readonly entries: readonly PeerEntry[];
}

/**
 * Domain routing: a lookup for the members of `domain`, routed greedily by similarity to `target` (the
 * domain's filter). `path` is every node the lookup went through, the origin first.
 */
export interface LookupMessage {
  readonly type: 'lookup';
  readonly id: string;
  readonly domain: string;
  readonly target: Uint8Array;
  readonly path: readonly PeerId[];
}

/** Domain routing: a member's answer, sent straight to the origin, with the path the lookup took. */
export interface LookupReplyMessage {
  readonly type: 'lookupReply';
  readonly id: string;
  readonly domain: string;
  readonly members: readonly PeerEntry[];
  readonly path: readonly PeerId[];
}

export type TapsMessage = ShuffleMessage | ShuffleReplyMessage;
export type TacMessage = ClusterMessage | ClusterReplyMessage;
/**
 * Domain routing: a member of a small domain leaves pointers to itself (`entry`, signed, naming the
 * walk's origin `path[0]`) at the nodes a greedy walk toward the domain's filter goes through: the nodes
 * lookups for that domain are drawn to, which then answer for it.
 */
export interface AnnounceMessage {
  readonly type: 'announce';
  readonly domain: string;
  readonly target: Uint8Array;
  readonly entry: PeerEntry;
  readonly path: readonly PeerId[];
}

export type RoutingMessage = LookupMessage | LookupReplyMessage | AnnounceMessage;
export type DiscoveryMessage = TapsMessage | TacMessage | RoutingMessage;

function fail(path: string, problem: string): never {
  throw new ProtocolDecodeError(DISCOVERY_PROTOCOL, path, problem);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

function onlyKeys(value: Record<string, unknown>, keys: readonly string[], path: string): void {
  for (const key of Object.keys(value)) if (!keys.includes(key)) fail(`${path}.${key}`, 'unknown field');
}

function text(value: unknown, max: number, path: string): string {
  if (typeof value !== 'string') fail(path, 'not a string');
  if (value.length < 1 || value.length > max) fail(path, `length ${value.length} outside 1..${max}`);
  return value;
}

function bytes(value: unknown, min: number, max: number, path: string): Uint8Array {
  if (!(value instanceof Uint8Array)) fail(path, 'not bytes');
  if (value.length < min || value.length > max) fail(path, `${value.length} bytes outside ${min}..${max}`);
  return value;
}

function list(value: unknown, max: number, path: string): readonly unknown[] {
  if (!Array.isArray(value)) fail(path, 'not an array');
  if (value.length > max) fail(path, `${value.length} items, more than ${max}`);
  return value;
}

/** Reads one entry; exported for tests and for drivers that take entries from elsewhere (bootstrap). */
export function decodePeerEntry(value: unknown, path = 'entry'): PeerEntry {
  if (!isRecord(value)) fail(path, 'not an object');
  onlyKeys(value, ['peer', 'filter', 'signature', 'age'], path);
  const age = value.age;
  if (typeof age !== 'number' || !Number.isInteger(age) || age < 0 || age > DISCOVERY_LIMITS.maxAge)
    fail(`${path}.age`, `not an integer in 0..${DISCOVERY_LIMITS.maxAge}`);
  return {
    peer: text(value.peer, DISCOVERY_LIMITS.maxPeerIdLength, `${path}.peer`),
    filter: bytes(value.filter, 1, DISCOVERY_LIMITS.maxFilterBytes, `${path}.filter`),
    signature: bytes(value.signature, 0, DISCOVERY_LIMITS.maxSignatureBytes, `${path}.signature`),
    age,
  };
}

function entries(value: unknown, max: number, path: string): PeerEntry[] {
  return list(value, max, path).map((item, i) => decodePeerEntry(item, `${path}[${i}]`));
}

/** The strict decoder: a well-formed message, or `ProtocolDecodeError` naming the offending field. */
export function decodeDiscoveryMessage(value: unknown): DiscoveryMessage {
  if (!isRecord(value)) fail('message', 'not an object');
  const type = value.type;
  switch (type) {
    case 'shuffle':
    case 'shuffleReply':
    case 'cluster':
    case 'clusterReply':
      onlyKeys(value, ['type', 'entries'], 'message');
      return { type, entries: entries(value.entries, DISCOVERY_LIMITS.maxEntries, 'message.entries') };
    case 'lookup': {
      onlyKeys(value, ['type', 'id', 'domain', 'target', 'path'], 'message');
      const path = list(value.path, DISCOVERY_LIMITS.maxPath, 'message.path').map((p, i) =>
        text(p, DISCOVERY_LIMITS.maxPeerIdLength, `message.path[${i}]`),
      );
      if (path.length === 0) fail('message.path', 'empty');
      return {
        type,
        id: text(value.id, DISCOVERY_LIMITS.maxNameLength, 'message.id'),
        domain: text(value.domain, DISCOVERY_LIMITS.maxNameLength, 'message.domain'),
        target: bytes(value.target, 1, DISCOVERY_LIMITS.maxFilterBytes, 'message.target'),
        path,
      };
    }
    case 'announce': {
      onlyKeys(value, ['type', 'domain', 'target', 'entry', 'path'], 'message');
      const path = list(value.path, DISCOVERY_LIMITS.maxPath, 'message.path').map((p, i) =>
        text(p, DISCOVERY_LIMITS.maxPeerIdLength, `message.path[${i}]`),
      );
      if (path.length === 0) fail('message.path', 'empty');
      return {
        type,
        domain: text(value.domain, DISCOVERY_LIMITS.maxNameLength, 'message.domain'),
        target: bytes(value.target, 1, DISCOVERY_LIMITS.maxFilterBytes, 'message.target'),
        entry: decodePeerEntry(value.entry, 'message.entry'),
        path,
      };
    }
    case 'lookupReply': {
      onlyKeys(value, ['type', 'id', 'domain', 'members', 'path'], 'message');
      return {
        type,
        id: text(value.id, DISCOVERY_LIMITS.maxNameLength, 'message.id'),
        domain: text(value.domain, DISCOVERY_LIMITS.maxNameLength, 'message.domain'),
        members: entries(value.members, DISCOVERY_LIMITS.maxMembers, 'message.members'),
        path: list(value.path, DISCOVERY_LIMITS.maxPath, 'message.path').map((p, i) =>
          text(p, DISCOVERY_LIMITS.maxPeerIdLength, `message.path[${i}]`),
        ),
      };
    }
    default:
      return fail('message.type', `unknown type ${String(type)}`);
  }
}
