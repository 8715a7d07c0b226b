export { PUBSUB_DROP_REASONS, type PubSubCounters, type PubSubDropReason } from './counters.js';
export { NotSubscribedError, NotTopicOwnerError, SubscriptionDeniedError } from './errors.js';
export type { PubSubEvent, PubSubEventListener, PubSubEvents } from './events.js';
export {
  type CreatedTopic,
  type CreateTopicOptions,
  type PeerConnectivity,
  PUBSUB_DEFAULTS,
  type PubSubEngineOptions,
} from './options.js';
export { type PeerEventLike, type PeerEventSource, wirePeerEvents } from './peer-events.js';
export {
  eventSigningPayload,
  eventToWire,
  PUBSUB_ENGINE,
  PubSubProtocol,
  packEventFields,
  readEvent,
  SubscribeStatus,
  signDeletion,
  signEvent,
  type TopicDeletion,
  type TopicEvent,
  verifyDeletion,
  verifyEventSignature,
} from './protocol.js';
export { PubSubEngine } from './pubsub-engine.js';
export { type PubSubServiceContext, pubsub } from './service.js';
export type { RemoteState } from './subscriber.js';
export { BATCH_CONTEXT } from './tree/batch-digest.js';
export {
  BatchSigner,
  type BatchSignerOptions,
  type BatchStream,
  MAX_BATCH_BYTES,
  type SignedBatch,
} from './tree/batch-signer.js';
export { type CursorStore, fileCursorStore } from './tree/cursor-store.js';
export { DomainPubSub } from './tree/domain-pubsub.js';
export type {
  DomainPubSubOptions,
  DomainTopicBatch,
  DomainTopicBatchListener,
  DomainTopicEvent,
  DomainTopicListener,
  DomainViews,
  TrustBook,
} from './tree/domain-pubsub-options.js';
export {
  type DomainTopicAdvert,
  decodeDomainTopicAdvert,
  encodeDomainTopicAdvert,
  MAX_TOPIC_PUBLISHERS,
  signDomainTopicAdvert,
  verifyDomainTopicAdvert,
} from './tree/domain-topic.js';
export {
  LentBatchEndedError,
  MalformedTreeEventError,
  NotTopicPublisherError,
  UnknownDomainTopicError,
} from './tree/errors.js';
export {
  type StreamCounters,
  type StreamEvent,
  type StreamOutcome,
  type StreamPosition,
  StreamReceiver,
  type StreamReceiverOptions,
} from './tree/stream-receiver.js';
export {
  decodeTreeBatch,
  MAX_BATCH_EVENTS,
  MAX_TREE_PAYLOAD,
  signTreeBatch,
  TreeBatch,
  type TreeBatchKey,
  type TreeEvent,
  treeBatchId,
  type UnsignedBatch,
  type UnsignedEvent,
  verifyTreeBatch,
} from './tree/tree-batch.js';
export {
  type DomainPubSubCounters,
  TREE_REJECT_REASONS,
  type TreeRejectReason,
} from './tree/tree-counters.js';
