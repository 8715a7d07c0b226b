import type { Millis, PeerId } from '@netmachine/overlay';
import type { PeerEntry } from './messages.js';

// What domain routing (routing.ts) is set up with and speaks: its config and defaults, the hooks into
// the rest of the node, its commands, timers and events, and its counters.

export interface RoutingConfig {
  /** Longest path (hops from the origin). */
  readonly hopLimit: number;
  /** Walks the origin starts at once. */
  readonly parallel: number;
  /** Tries per lookup. */
  readonly attempts: number;
  /** Time the origin waits for an answer (ms). */
  readonly timeout: Millis;
  /** Lookups of the node's own in flight. */
  readonly maxPending: number;
  /** Lookups forwarded per period; more are refused. */
  readonly maxForwardsPerPeriod: number;
  /** The forwarding budget's period (ms). */
  readonly period: Millis;
  /** Lookup ids remembered to drop second copies. */
  readonly seenMemory: number;
  /** Members in one answer. */
  readonly maxMembers: number;
  /** How often a member of a small domain announces itself (ms); 0 never. */
  readonly announcePeriod: Millis;
  /** Announce walks per small domain per period. */
  readonly announceWalks: number;
  /** Length of an announce walk (hops). */
  readonly announceHops: number;
  /** A domain is small while fewer cluster neighbours than this share it. */
  readonly announceBelow: number;
  /** How long a pointer is kept (ms). */
  readonly pointerTtl: Millis;
  /** Domains a node keeps pointers for (the oldest go first). */
  readonly maxPointerDomains: number;
  /** Pointers kept per domain (the oldest go first). */
  readonly pointersPerDomain: number;
}

export const DEFAULT_ROUTING_CONFIG: RoutingConfig = {
  hopLimit: 24,
  parallel: 3,
  attempts: 6,
  timeout: 2000,
  maxPending: 64,
  maxForwardsPerPeriod: 64,
  period: 1000,
  seenMemory: 1024,
  maxMembers: 8,
  announcePeriod: 10_000,
  announceWalks: 2,
  announceHops: 6,
  announceBelow: 2,
  pointerTtl: 35_000,
  maxPointerDomains: 256,
  pointersPerDomain: 4,
};

export interface RoutingHooks {
  readonly advert: PeerEntry;
  readonly domains: readonly string[];
  readonly verify: (entry: PeerEntry) => boolean;
  /** Similarity of a peer's filter to a domain's filter, higher is closer. */
  readonly similarity: (filter: Uint8Array, target: Uint8Array) => number;
  /** The filter a lookup for `domain` is routed toward. */
  readonly domainFilter: (domain: string) => Uint8Array;
  /** Every peer the node can forward to (TAPS view, URPS memory, TAC cluster). */
  readonly candidates: (visit: (entry: PeerEntry) => void) => void;
  /** Cluster neighbours sharing `domain` with this node (for answers). */
  readonly membersOf: (domain: string) => readonly PeerEntry[];
}

/** `others`: find members other than this node even if it is a member itself (TAC's lookups). */
export type RoutingCommand = {
  readonly type: 'lookup';
  readonly id: string;
  readonly domain: string;
  readonly others?: boolean;
};
export type RoutingTimer =
  | { readonly type: 'lookupTimeout'; readonly id: string; readonly attempt: number }
  | { readonly type: 'budget' }
  | { readonly type: 'announce' };
export type RoutingEvent =
  | {
      readonly type: 'lookupResult';
      readonly id: string;
      readonly domain: string;
      readonly members: readonly PeerEntry[];
      /** Hops from the origin to the member that answered. */
      readonly hops: number;
      readonly path: readonly PeerId[];
    }
  | { readonly type: 'lookupFailed'; readonly id: string; readonly domain: string; readonly reason: string };

export interface RoutingCounters {
  started: number;
  forwarded: number;
  answered: number;
  /** A lookup that came back to a node on its path. */
  loops: number;
  /** A second copy of a lookup (another walk of the same lookup, or a replay): sent on elsewhere. */
  duplicates: number;
  /** Lookups beyond the forwarding budget. */
  refused: number;
  hopLimitReached: number;
  deadEnds: number;
  /** Answers for no pending lookup (late, duplicate or unsolicited). */
  strayAnswers: number;
  forgedEntries: number;
  /** Own lookups refused because `maxPending` were in flight. */
  pendingFull: number;
  /** Announce walks this node started. */
  announced: number;
  /** Announces this node took a pointer from. */
  pointersTaken: number;
  /** Lookups answered from pointers for a domain this node is not in. */
  answeredByPointer: number;
}
