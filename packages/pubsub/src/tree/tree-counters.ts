import type { Logger, NodeId } from '@netmachine/core';
import type { TrustBook } from './domain-pubsub-options.js';
import type { StreamCounters } from './stream-receiver.js';

/** Why a node refused an event or advert from the tree (each has its own counter). */
export type TreeRejectReason =
  /** Bytes without an event's layout, or whose tree id does not match its fields. */
  | 'malformed'
  /** An event for a topic whose advert this node does not hold (not the sender's fault: no penalty). */
  | 'unknown-topic'
  /** An event on the overlay of a domain other than its topic's. */
  | 'wrong-domain'
  /** Signed by a key the topic's advert does not name. */
  | 'unauthorized'
  /** The batch signature does not hold. */
  | 'forged'
  /** Past its expiry (no penalty: clocks differ). */
  | 'expired'
  /** A topic advert that does not verify. */
  | 'bad-advert';

export const TREE_REJECT_REASONS: readonly TreeRejectReason[] = [
  'malformed',
  'unknown-topic',
  'wrong-domain',
  'unauthorized',
  'forged',
  'expired',
  'bad-advert',
];

/** Reasons that cost the sending node trust. */
export const PENALIZED: ReadonlySet<TreeRejectReason> = new Set([
  'malformed',
  'wrong-domain',
  'unauthorized',
  'forged',
  'bad-advert',
]);

/**
 * Lowers the trust of the node that sent a refused event, when the reason is its fault
 * (PENALIZED); a failure to store the new trust is only logged.
 */
export function penalizeSender(
  reason: TreeRejectReason,
  from: NodeId,
  trust: TrustBook | undefined,
  penalty: number,
  logger: Logger,
): void {
  if (trust === undefined || !PENALIZED.has(reason)) return;
  const current = trust.node(from)?.trust ?? 128;
  const next = Math.max(0, current - penalty);
  trust.setTrust(from, next).catch((error) => logger.debug({ err: error }, 'trust not lowered'));
}

export interface DomainPubSubCounters {
  /** Events this node published, and the batches (signatures) they went out in. */
  published: number;
  batchesSigned: number;
  /** Events accepted from the tree (first copies, checked), the batches they came in, and deliveries to local subscribers. */
  accepted: number;
  batchesAccepted: number;
  delivered: number;
  rejected: Record<TreeRejectReason, number>;
  /** Ed25519 verifications done (one per batch received for the first time). */
  signatureChecks: number;
  /** Ordering on the subscriber side, in batches: duplicates, stale epochs, gaps, fetched and missed batches. */
  streams: StreamCounters;
  advertsAdded: number;
  /** Hop-to-hop flow control: holds of the tree engine, and backed-up neighbours passed over as slow. */
  flow: { holds: number; slowNeighbours: number };
}

/** The counters a node bumps as it goes; plain fields, so the hot paths only increment. */
export interface LiveTreeCounters {
  published: number;
  accepted: number;
  batchesAccepted: number;
  signatureChecks: number;
  delivered: number;
  advertsAdded: number;
  readonly rejected: Record<TreeRejectReason, number>;
}

export function newTreeCounters(): LiveTreeCounters {
  return {
    published: 0,
    accepted: 0,
    batchesAccepted: 0,
    signatureChecks: 0,
    delivered: 0,
    advertsAdded: 0,
    rejected: Object.fromEntries(TREE_REJECT_REASONS.map((r) => [r, 0])) as Record<TreeRejectReason, number>,
  };
}

/** A copy of the counters for status, with the parts kept by the signer, receiver and forward gates. */
export function treeCountersSnapshot(
  live: LiveTreeCounters,
  batchesSigned: number,
  streams: StreamCounters,
  gates: Iterable<{ readonly counters: { readonly holds: number; readonly slowNeighbours: number } }>,
): DomainPubSubCounters {
  const flow = { holds: 0, slowNeighbours: 0 };
  for (const gate of gates) {
    flow.holds += gate.counters.holds;
    flow.slowNeighbours += gate.counters.slowNeighbours;
  }
  return {
    published: live.published,
    batchesSigned,
    accepted: live.accepted,
    batchesAccepted: live.batchesAccepted,
    delivered: live.delivered,
    rejected: { ...live.rejected },
    signatureChecks: live.signatureChecks,
    streams: { ...streams },
    advertsAdded: live.advertsAdded,
    flow,
  };
}
