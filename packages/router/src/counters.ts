/** Why the router dropped a message. Each reason has its own counter. */
export type DropReason =
  | 'unknown-destination'
  | 'expired'
  | 'mailbox-full'
  | 'mailbox-evicted'
  | 'unauthorized-publisher'
  | 'engine-stopped'
  | 'undeliverable'
  | 'late-reply';

export const DROP_REASONS: readonly DropReason[] = [
  'unknown-destination',
  'expired',
  'mailbox-full',
  'mailbox-evicted',
  'unauthorized-publisher',
  'engine-stopped',
  'undeliverable',
  'late-reply',
];

/** Router counters, read by the metrics endpoint. Plain numbers: incrementing them is the hot path. */
export interface RouterCounters {
  /** Messages handed to a local engine's handler. */
  delivered: number;
  /** Messages handed to the NodeSender for another node. */
  sentRemote: number;
  /** Messages received from other nodes. */
  receivedRemote: number;
  /** Local topic events fanned out (one per subscriber). */
  topicDeliveries: number;
  /** Handlers that threw or rejected. */
  handlerErrors: number;
  requestsTimedOut: number;
  dropped: Record<DropReason, number>;
}

export function newCounters(): RouterCounters {
  const dropped = {} as Record<DropReason, number>;
  for (const reason of DROP_REASONS) dropped[reason] = 0;
  return {
    delivered: 0,
    sentRemote: 0,
    receivedRemote: 0,
    topicDeliveries: 0,
    handlerErrors: 0,
    requestsTimedOut: 0,
    dropped,
  };
}
