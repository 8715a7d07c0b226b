import { ProtocolDecodeError } from './errors.js';
import type { PeerId } from './protocol.js';

/** The protocol's name and version on the wire. */
export const HYPARVIEW_PROTOCOL = 'hyparview/1';

/** Limits the decoder enforces on everything that comes from the wire. */
export const HYPARVIEW_LIMITS = {
  /** Longest peer id accepted (a node id in text form is 52 characters). */
  maxPeerIdLength: 128,
  /** Most peers in one Shuffle or ShuffleReply. */
  maxShufflePeers: 64,
  /** Highest time-to-live a walk may carry. */
  maxTtl: 32,
} as const;

/** A new node asks its contact to take it into the overlay. */
export interface JoinMessage {
  readonly type: 'join';
}

/** A random walk that announces a joining node: whoever ends the walk takes it into its active view. */
export interface ForwardJoinMessage {
  readonly type: 'forwardJoin';
  readonly peer: PeerId;
  readonly ttl: number;
}

/**
 * "Take me into your active view." High priority (the sender has at most one neighbour, or has already
 * taken the receiver) must be accepted; low priority is accepted only when there is room. Bridge (the
 * sender found the receiver in another component) must be accepted, into a free overflow slot if any.
 */
export interface NeighborMessage {
  readonly type: 'neighbor';
  readonly priority: 'high' | 'low' | 'bridge';
}

export interface NeighborReplyMessage {
  readonly type: 'neighborReply';
  readonly accepted: boolean;
}

/** The sender removed the receiver from its active view; `alive` says whether to keep it as a passive peer. */
export interface DisconnectMessage {
  readonly type: 'disconnect';
  readonly alive: boolean;
}

/**
 * The label of a component of the active-view graph: its smallest peer id as far as the sender knows, and
 * the last epoch that peer counted. Shuffles carry it (both fields or neither), so it spreads through the
 * component along the shuffle walks.
 */
export interface ComponentLabel {
  readonly root?: PeerId;
  readonly epoch?: number;
}

/** A random walk carrying a sample of `origin`'s views; whoever ends it answers `origin` with its own sample. */
export interface ShuffleMessage extends ComponentLabel {
  readonly type: 'shuffle';
  readonly origin: PeerId;
  readonly ttl: number;
  readonly peers: readonly PeerId[];
}

export interface ShuffleReplyMessage extends ComponentLabel {
  readonly type: 'shuffleReply';
  readonly peers: readonly PeerId[];
}

/** "Which component are you in?", sent to a passive peer. */
export interface ProbeMessage {
  readonly type: 'probe';
}

/** The answer to `probe`: the receiver's component label, and whether its root has held for a while. */
export interface ProbeReplyMessage {
  readonly type: 'probeReply';
  readonly root: PeerId;
  readonly epoch: number;
  readonly settled: boolean;
}

export type HyParViewMessage =
  | JoinMessage
  | ForwardJoinMessage
  | NeighborMessage
  | NeighborReplyMessage
  | DisconnectMessage
  | ShuffleMessage
  | ShuffleReplyMessage
  | ProbeMessage
  | ProbeReplyMessage;

function fail(path: string, problem: string): never {
  throw new ProtocolDecodeError(HYPARVIEW_PROTOCOL, path, problem);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

function peerId(value: unknown, path: string): PeerId {
  if (typeof value !== 'string') fail(path, 'expected a peer id string');
  if (value.length === 0 || value.length > HYPARVIEW_LIMITS.maxPeerIdLength) {
    fail(path, `peer id length must be 1..${HYPARVIEW_LIMITS.maxPeerIdLength}`);
  }
  return value;
}

function ttl(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > HYPARVIEW_LIMITS.maxTtl) {
    fail(path, `expected an integer 0..${HYPARVIEW_LIMITS.maxTtl}`);
  }
  return value;
}

function epoch(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    fail(path, 'expected a non-negative integer');
  }
  return value;
}

/** The optional component label: both fields or neither. */
function label(value: Record<string, unknown>): ComponentLabel {
  if (value.root === undefined && value.epoch === undefined) return {};
  return { root: peerId(value.root, 'root'), epoch: epoch(value.epoch, 'epoch') };
}

function bool(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') fail(path, 'expected a boolean');
  return value;
}

function peerList(value: unknown, path: string): PeerId[] {
  if (!Array.isArray(value)) fail(path, 'expected an array of peer ids');
  if (value.length > HYPARVIEW_LIMITS.maxShufflePeers) {
    fail(path, `at most ${HYPARVIEW_LIMITS.maxShufflePeers} peers`);
  }
  return value.map((item, i) => peerId(item, `${path}[${i}]`));
}

/** Only the fields a message type has: anything extra is an error, so the wire form stays exact. */
function exactKeys(value: Record<string, unknown>, keys: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) fail(key, 'unexpected field');
  }
}

/**
 * The strict decoder: takes any value from the wire and returns a well-formed HyParView message, or throws
 * `ProtocolDecodeError`. Every field is checked (types, ranges, lengths); unknown fields are rejected.
 */
export function decodeHyParViewMessage(value: unknown): HyParViewMessage {
  if (!isRecord(value)) fail('$', 'expected a message object');
  switch (value.type) {
    case 'join':
      exactKeys(value, ['type']);
      return { type: 'join' };
    case 'forwardJoin':
      exactKeys(value, ['type', 'peer', 'ttl']);
      return { type: 'forwardJoin', peer: peerId(value.peer, 'peer'), ttl: ttl(value.ttl, 'ttl') };
    case 'neighbor':
      exactKeys(value, ['type', 'priority']);
      if (value.priority !== 'high' && value.priority !== 'low' && value.priority !== 'bridge') {
        fail('priority', "expected 'high', 'low' or 'bridge'");
      }
      return { type: 'neighbor', priority: value.priority };
    case 'neighborReply':
      exactKeys(value, ['type', 'accepted']);
      return { type: 'neighborReply', accepted: bool(value.accepted, 'accepted') };
    case 'disconnect':
      exactKeys(value, ['type', 'alive']);
      return { type: 'disconnect', alive: bool(value.alive, 'alive') };
    case 'shuffle':
      exactKeys(value, ['type', 'origin', 'ttl', 'peers', 'root', 'epoch']);
      return {
        type: 'shuffle',
        origin: peerId(value.origin, 'origin'),
        ttl: ttl(value.ttl, 'ttl'),
        peers: peerList(value.peers, 'peers'),
        ...label(value),
      };
    case 'shuffleReply':
      exactKeys(value, ['type', 'peers', 'root', 'epoch']);
      return { type: 'shuffleReply', peers: peerList(value.peers, 'peers'), ...label(value) };
    case 'probe':
      exactKeys(value, ['type']);
      return { type: 'probe' };
    case 'probeReply':
      exactKeys(value, ['type', 'root', 'epoch', 'settled']);
      return {
        type: 'probeReply',
        root: peerId(value.root, 'root'),
        epoch: epoch(value.epoch, 'epoch'),
        settled: bool(value.settled, 'settled'),
      };
    default:
      return fail('type', 'unknown message type');
  }
}
