import type { Logger, NodeId } from '@netmachine/core';
import type { PubSubCounters, PubSubDropReason } from './counters.js';
import type { PubSubEvent, PubSubEvents } from './events.js';

/** What the publisher and subscriber halves share: the way out, the counters and the events. */
export interface PubSubContext {
  readonly node: NodeId;
  readonly logger: Logger;
  readonly counters: PubSubCounters;
  readonly events: PubSubEvents;
  /** Sends `body` to the pubsub engine of `node` (fire and forget; the router counts failures). */
  send(node: NodeId, protocol: string, body: unknown, expiry?: number): void;
}

export function noteDropped(
  context: PubSubContext,
  reason: PubSubDropReason,
  details: Omit<Extract<PubSubEvent, { type: 'message:dropped' }>, 'type' | 'reason'> = {},
): void {
  context.counters.dropped[reason]++;
  if (context.events.active) context.events.emit({ type: 'message:dropped', reason, ...details });
}
