import { ProtocolDecodeError } from './errors.js';

/** The protocol's name and version on the wire. */
export const PLUMTREE_PROTOCOL = 'plumtree/1';

/** Limits the decoder enforces on everything that comes from the wire. */
export const PLUMTREE_LIMITS = {
  /** Longest message id accepted (the pub/sub layer uses `<publisher>/<seq>`). */
  maxIdLength: 256,
  /** Largest payload accepted on the wire (a machine may set a lower `maxPayloadBytes`). */
  maxPayloadBytes: 1024 * 1024,
  /** Most announcements in one IHave, and most ids in one Graft or Want. */
  maxIdsPerMessage: 256,
  /** Highest hop count a message may carry. */
  maxHops: 255,
} as const;

/** Eager push: the payload itself, along a tree link. `hops` counts links travelled, this one included. */
export interface GossipMessage {
  readonly type: 'gossip';
  readonly id: string;
  readonly payload: Uint8Array;
  readonly hops: number;
}

/** One lazy announcement: "I have `id`, it reached me in `hops` hops" (0: I am its origin). */
export interface IHaveEntry {
  readonly id: string;
  readonly hops: number;
}

/** Lazy push: a batch of announcements to a peer that is not a tree link. */
export interface IHaveMessage {
  readonly type: 'ihave';
  readonly entries: readonly IHaveEntry[];
}

/**
 * "Make our link a tree link of `tree` (a source), and send me these messages" (`ids` may be empty: the
 * optimization).
 */
export interface GraftMessage {
  readonly type: 'graft';
  readonly tree: string;
  readonly ids: readonly string[];
}

/** "I got a duplicate from you: our link is no longer a tree link of `tree`." */
export interface PruneMessage {
  readonly type: 'prune';
  readonly tree: string;
}

/** Gap recovery: "send me these messages if you still have them" (no change to the tree). */
export interface WantMessage {
  readonly type: 'want';
  readonly ids: readonly string[];
}

/**
 * The answer to a Graft or a Want: a payload delivered and forwarded like gossip, but a duplicate of it
 * does not prune the link (it was asked for; it says nothing about cycles in the tree).
 */
export interface ReplyMessage {
  readonly type: 'reply';
  readonly id: string;
  readonly payload: Uint8Array;
  readonly hops: number;
}

export type PlumTreeMessage =
  | GossipMessage
  | IHaveMessage
  | GraftMessage
  | PruneMessage
  | WantMessage
  | ReplyMessage;

function fail(path: string, problem: string): never {
  throw new ProtocolDecodeError(PLUMTREE_PROTOCOL, path, problem);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

/** Only the fields a message type has: anything extra is an error, so the wire form stays exact. */
function exactKeys(value: Record<string, unknown>, keys: readonly string[], path = ''): void {
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) fail(`${path}${key}`, 'unexpected field');
  }
}

function messageId(value: unknown, path: string): string {
  if (typeof value !== 'string') fail(path, 'expected a message id string');
  if (value.length === 0 || value.length > PLUMTREE_LIMITS.maxIdLength) {
    fail(path, `message id length must be 1..${PLUMTREE_LIMITS.maxIdLength}`);
  }
  return value;
}

/** A tree (source) name: may be empty (one shared tree), as long as an id at most. */
function treeName(value: unknown, path: string): string {
  if (typeof value !== 'string') fail(path, 'expected a tree name string');
  if (value.length > PLUMTREE_LIMITS.maxIdLength)
    fail(path, `tree name longer than ${PLUMTREE_LIMITS.maxIdLength}`);
  return value;
}

/** A hop count: at least 1 on a payload (it crossed a link), at least 0 in an announcement (its origin). */
function hops(value: unknown, path: string, min: 0 | 1): number {
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < min ||
    value > PLUMTREE_LIMITS.maxHops
  ) {
    fail(path, `expected an integer ${min}..${PLUMTREE_LIMITS.maxHops}`);
  }
  return value;
}

function payload(value: unknown, path: string): Uint8Array {
  if (!(value instanceof Uint8Array)) fail(path, 'expected bytes');
  if (value.byteLength > PLUMTREE_LIMITS.maxPayloadBytes) {
    fail(path, `payload larger than ${PLUMTREE_LIMITS.maxPayloadBytes} bytes`);
  }
  return value;
}

function idList(value: unknown, path: string): string[] {
  if (!Array.isArray(value)) fail(path, 'expected an array of message ids');
  if (value.length > PLUMTREE_LIMITS.maxIdsPerMessage) {
    fail(path, `at most ${PLUMTREE_LIMITS.maxIdsPerMessage} ids`);
  }
  return value.map((item, i) => messageId(item, `${path}[${i}]`));
}

function entries(value: unknown, path: string): IHaveEntry[] {
  if (!Array.isArray(value)) fail(path, 'expected an array of announcements');
  if (value.length === 0 || value.length > PLUMTREE_LIMITS.maxIdsPerMessage) {
    fail(path, `expected 1..${PLUMTREE_LIMITS.maxIdsPerMessage} announcements`);
  }
  return value.map((item, i) => {
    const at = `${path}[${i}]`;
    if (!isRecord(item)) fail(at, 'expected an announcement object');
    exactKeys(item, ['id', 'hops'], `${at}.`);
    return { id: messageId(item.id, `${at}.id`), hops: hops(item.hops, `${at}.hops`, 0) };
  });
}

/**
 * The strict decoder: takes any value from the wire and returns a well-formed PlumTree message, or throws
 * `ProtocolDecodeError`. Every field is checked (types, ranges, lengths); unknown fields are rejected.
 */
export function decodePlumTreeMessage(value: unknown): PlumTreeMessage {
  if (!isRecord(value)) fail('$', 'expected a message object');
  switch (value.type) {
    case 'gossip':
    case 'reply':
      exactKeys(value, ['type', 'id', 'payload', 'hops']);
      return {
        type: value.type,
        id: messageId(value.id, 'id'),
        payload: payload(value.payload, 'payload'),
        hops: hops(value.hops, 'hops', 1),
      };
    case 'ihave':
      exactKeys(value, ['type', 'entries']);
      return { type: 'ihave', entries: entries(value.entries, 'entries') };
    case 'graft':
      exactKeys(value, ['type', 'tree', 'ids']);
      return { type: 'graft', tree: treeName(value.tree, 'tree'), ids: idList(value.ids, 'ids') };
    case 'prune':
      exactKeys(value, ['type', 'tree']);
      return { type: 'prune', tree: treeName(value.tree, 'tree') };
    case 'want': {
      exactKeys(value, ['type', 'ids']);
      const ids = idList(value.ids, 'ids');
      if (ids.length === 0) fail('ids', 'expected at least one id');
      return { type: 'want', ids };
    }
    default:
      return fail('type', 'unknown message type');
  }
}
