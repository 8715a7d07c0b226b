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
export {
  BATCH_CONTEXT,
  type BatchCheck,
  BatchSigner,
  type BatchSignerOptions,
  BatchVerifier,
  type BatchVerifierOptions,
  decodeTreeEvent,
  MAX_TREE_PAYLOAD,
  MalformedTreeEventError,
  signBatch,
  type TreeEvent,
  type TreeEventFields,
  treeEventId,
  type UnsignedEvent,
} from './tree/index.js';
