import { Emitter, type EngineAddress, type NodeId, type TopicAdvert, type TopicId } from '@netmachine/core';
import type { PubSubDropReason } from './counters.js';

/** What the pubsub engine reports, for logs, metrics and tests. */
export type PubSubEvent =
  /** Events `from`..`to` (inclusive) of `publisher` on `topic` never arrived here. */
  | { type: 'topic:gap'; topic: TopicId; publisher: EngineAddress; from: number; to: number }
  | {
      type: 'message:dropped';
      reason: PubSubDropReason;
      topic?: TopicId | undefined;
      node?: NodeId;
      error?: Error;
    }
  /** Publisher side: a subscriber node's queue was full and its oldest event was evicted. */
  | { type: 'queue:overflow'; node: NodeId; topic: TopicId; seq: number; queued: number }
  | { type: 'advert:added'; advert: TopicAdvert; from?: NodeId | undefined }
  | { type: 'advert:rejected'; error: Error; from?: NodeId | undefined }
  | { type: 'topic:deleted'; topic: TopicId }
  /** Subscriber side: the publisher node recorded this node as a subscriber of `topic`. */
  | { type: 'topic:subscribed'; topic: TopicId; publisherNode: NodeId; resubscribe: boolean }
  | { type: 'topic:subscribe-failed'; topic: TopicId; publisherNode: NodeId; error: Error }
  | { type: 'topic:unsubscribed'; topic: TopicId; publisherNode: NodeId }
  /** Publisher side: a subscriber node was recorded or removed. */
  | { type: 'subscriber:added'; topic: TopicId; node: NodeId }
  | {
      type: 'subscriber:removed';
      topic: TopicId;
      node: NodeId;
      reason: 'unsubscribed' | 'disconnected' | 'topic-deleted';
    }
  /** Subscriber side: the publisher started a new session; its sequence numbers restarted. */
  | { type: 'publisher:restarted'; topic: TopicId; publisher: EngineAddress };

export type PubSubEventListener = (event: PubSubEvent) => void;

/** The pubsub engine's emitter: core's typed emitter over PubSubEvent. */
export class PubSubEvents extends Emitter<PubSubEvent> {}
