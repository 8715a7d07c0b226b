import type { PubSubEngine } from '@netmachine/pubsub';

/** A topic as the map reads it from the pub/sub service, before rates are worked out. */
export interface MapTopicInput {
  readonly id: string;
  /** The node of the topic's one authorized publisher. */
  readonly publisherNode: string;
  /** Publisher side: subscriber nodes this node serves; null when another node publishes it. */
  readonly subscribers: number | null;
  /** The last sequence number published here (publisher side) or received (subscriber side); null when
   *  this node neither publishes nor subscribes to it. */
  readonly seq: number | null;
}

/** The map shows at most this many topics (those this node publishes first). */
export const MAP_TOPIC_LIMIT = 200;

/** The topics a pub/sub service knows, for the map. */
export function pubsubTopics(engine: PubSubEngine, self: string): MapTopicInput[] {
  const topics = engine.topicAdverts().map((advert) => {
    const ours = advert.publisher.node === self;
    return {
      id: advert.id,
      publisherNode: advert.publisher.node,
      subscribers: ours ? engine.subscriberNodes(advert.id).length : null,
      seq: (ours ? engine.lastPublishedSeq(advert.id) : engine.lastReceivedSeq(advert.id)) ?? null,
    };
  });
  topics.sort((a, b) => Number(b.subscribers !== null) - Number(a.subscribers !== null));
  return topics.slice(0, MAP_TOPIC_LIMIT);
}
