/** Why the pubsub engine dropped an event (or a control message). Each has its own counter. */
export type PubSubDropReason =
  /** A body that does not have the protocol's shape. */
  | 'malformed'
  /** An event for a topic whose advert this node does not know. */
  | 'unknown-topic'
  /** An event from a node other than the topic's publisher node, or naming another publisher. */
  | 'unauthorized'
  /** An event whose signature is missing or wrong (checked when `verifyEventSignatures` is on). */
  | 'bad-signature'
  /** An event for a topic no local engine subscribes to any more. */
  | 'not-subscribed'
  /** An event whose sequence number was already seen. */
  | 'duplicate'
  /** An event past what a publisher node may have waiting for full local mailboxes (it ignored its window). */
  | 'flow-violation'
  /** Publisher side: evicted from a full per-subscriber queue (policy drop-oldest). */
  | 'queue-overflow'
  /** Publisher side: still queued for a subscriber node when it disconnected. */
  | 'disconnected';

export const PUBSUB_DROP_REASONS: readonly PubSubDropReason[] = [
  'malformed',
  'unknown-topic',
  'unauthorized',
  'bad-signature',
  'not-subscribed',
  'duplicate',
  'flow-violation',
  'queue-overflow',
  'disconnected',
];

/** Plain numbers, cheap to bump on the hot path; read by the metrics endpoint. */
export interface PubSubCounters {
  /** Local publishes to topics this node publishes for other nodes. */
  published: number;
  /** Local publishes signed (once each, whatever the number of subscribers). */
  eventsSigned: number;
  /** Events handed to the router for subscriber nodes (one per subscriber node). */
  eventsSent: number;
  /** Events received from publisher nodes. */
  eventsReceived: number;
  /** Received events handed to local subscribers (one per local subscriber). */
  eventsDelivered: number;
  /** Sequence gaps seen, and the events they stand for. */
  gaps: number;
  missedEvents: number;
  advertsAdded: number;
  /** Adverts refused for a bad signature or shape. */
  advertsRejected: number;
  /** Adverts not newer than the known one (usually a harmless repeat). */
  advertsStale: number;
  /** Subscribe requests sent to publisher nodes, and those that failed or were denied. */
  subscribeRequests: number;
  subscribeFailures: number;
  /** Subscriptions re-sent after a publisher node reconnected. */
  resubscribes: number;
  /** Publisher side: subscriber-node entries added and removed. */
  subscribersAdded: number;
  subscribersRemoved: number;
  dropped: Record<PubSubDropReason, number>;
}

export function newPubSubCounters(): PubSubCounters {
  const dropped = {} as Record<PubSubDropReason, number>;
  for (const reason of PUBSUB_DROP_REASONS) dropped[reason] = 0;
  return {
    published: 0,
    eventsSigned: 0,
    eventsSent: 0,
    eventsReceived: 0,
    eventsDelivered: 0,
    gaps: 0,
    missedEvents: 0,
    advertsAdded: 0,
    advertsRejected: 0,
    advertsStale: 0,
    subscribeRequests: 0,
    subscribeFailures: 0,
    resubscribes: 0,
    subscribersAdded: 0,
    subscribersRemoved: 0,
    dropped,
  };
}
