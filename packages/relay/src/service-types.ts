import type { EngineMessage, NodeId, Service, ServiceContext } from '@netmachine/core';
import type { RelayOffer } from './policy.js';
import type { RefusalCode } from './protocol.js';
import type { OpenerOptions } from './relay-opener.js';
import type { SealerOptions } from './relay-sealer.js';

export interface RelayOptions {
  /** Relay for others, per this offer (default: this node relays for nobody). */
  readonly offer?: RelayOffer;
  /**
   * Relays this node keeps a permanent link to and registers with, so that others can reach it
   * through them (list them in the advert as `relay://<id>`: `createNode({ advertise })`).
   */
  readonly use?: readonly NodeId[];
  readonly sealing?: SealerOptions & OpenerOptions;
  /** Expiry given to a relayed message that has none, in ms (default 30 s). */
  readonly defaultTtlMs?: number;
  /**
   * While a node with a dialable address is reached through a relay, a direct connection is tried
   * this often, in ms; once one works, messages go direct again (default 10 s; 0 never tries).
   */
  readonly probeIntervalMs?: number;
  /** Messages waiting for a relay connection, per destination and in all (default 1024 / 8192). */
  readonly pendingPerDestination?: number;
  readonly maxPending?: number;
  /**
   * Sees every message this node relays, as the relay sees it (sealed bytes): for audits and tests
   * of what a relay learns. Called on the relay's path, so it must be quick. The sealed bytes are
   * valid during the call only (their buffer is reused once they are passed on): copy to keep them.
   */
  readonly tap?: (event: RelayTapEvent) => void;
  /** Learned return paths and failed direct nodes remembered (default 4096 each, oldest forgotten). */
  readonly maxPaths?: number;
}

/** A message a relay passes on: who handed it over, where it goes, and the sealed bytes. */
export interface RelayTapEvent {
  readonly from: NodeId;
  readonly destination: NodeId;
  readonly expiry: number;
  readonly sealed: Uint8Array;
}

/** Counters of the relay service, read by status and metrics. */
export interface RelayCounters {
  /** As a source: messages sealed and handed to a relay, and refusals received back. */
  sealed: number;
  refusedBack: Record<RefusalCode, number>;
  /** As a source: messages that waited for a relay connection and expired, or found none. */
  pendingExpired: number;
  noRelay: number;
  /**
   * Forwards (as a source) and Delivers (as a relay) written as Relay link frames; the rest went as
   * engine messages (messages queued before them, a connection pushing back, multi-hop).
   */
  sentAsFrames: number;
  /** As a relay: messages forwarded to a served destination (or another relay), and refused. */
  forwarded: number;
  forwardedMultiHop: number;
  /** As a relay: times the relay held back because the queue to a destination was full. */
  heldBack: number;
  refused: Record<RefusalCode, number>;
  /** As a relay: messages dropped without a refusal (expired, not bucket-sized, malformed, refusals rate-limited). */
  relayDropped: number;
  served: number;
  /** As a relay: sources whose rate state is kept now (bounded by the offer's maxSources). */
  sources: number;
  /** As a destination: messages opened and delivered, and refused by reason (error name). */
  opened: number;
  openFailed: Record<string, number>;
  /** Sessions begun as a source and accepted as a destination. */
  sessionsStarted: number;
  sessionsOpened: number;
  /** Frames of the relay protocol that did not decode. */
  malformed: number;
}

/** How a destination is reached at the moment, for status and the node map. */
export type RelayPathView = { readonly via: 'direct' } | { readonly via: 'relay'; readonly relay: NodeId };

/** The running relay service. */
export interface RelayService extends Service {
  counters(): RelayCounters;
  /** Relays this node is registered with (its permanent relay links that answered). */
  registeredWith(): NodeId[];
  /** Nodes this node reaches through a relay now, with the relay it would use. */
  relayedPaths(): Record<NodeId, NodeId>;
  /** How `node` is reached now: a direct connection, or a relay (undefined when neither is known). */
  pathTo(node: NodeId): RelayPathView | undefined;
}

/** What the relay service needs from the node. */
export type RelayContext = Pick<
  ServiceContext,
  'node' | 'keyPair' | 'logger' | 'router' | 'identity' | 'peers' | 'relayPath' | 'signal'
>;

/** Counters all at zero (the refusal records each start with every code). */
export function zeroCounters(): RelayCounters {
  const refusals = {
    'source-not-allowed': 0,
    'not-served': 0,
    'rate-source': 0,
    'rate-total': 0,
    'over-capacity': 0,
  };
  return {
    sealed: 0,
    refusedBack: { ...refusals },
    pendingExpired: 0,
    noRelay: 0,
    sentAsFrames: 0,
    forwarded: 0,
    forwardedMultiHop: 0,
    heldBack: 0,
    refused: { ...refusals },
    relayDropped: 0,
    served: 0,
    sources: 0,
    opened: 0,
    openFailed: {},
    sessionsStarted: 0,
    sessionsOpened: 0,
    malformed: 0,
  };
}

/** The expiry a message goes through a relay with: its own, or `defaultTtlMs` (30 s) from now. */
export function relayedExpiry(message: EngineMessage, options: Pick<RelayOptions, 'defaultTtlMs'>): number {
  return message.expiry ?? Date.now() + (options.defaultTtlMs ?? 30_000);
}
