export { AttachedEngine, attachEngine } from './attach.js';
export type {
  AttachedEngineCounters,
  AttachedEngineEvent,
  AttachOptions,
  ProcessDropReason,
} from './attach-options.js';
export { NatsBridge } from './bridge.js';
export {
  type BridgeEvent,
  type BridgeRouter,
  bridgeOptionsFromConfig,
  type NatsBridgeCounters,
  type NatsBridgeOptions,
  type NatsBridgeStatus,
  type NatsConfig,
  type OutRejection,
} from './bridge-options.js';
export {
  type AttachRefusal,
  AttachRefusedError,
  BridgeError,
  NotAttachedError,
  UnsupportedOperationError,
} from './errors.js';
export type { LinkEvent, LinkOptions } from './nats-link.js';
export { MAX_TOPICS_PER_INSTANCE } from './protocol.js';
export { type NatsServiceContext, type NatsServiceOptions, nats } from './service.js';
export { DEFAULT_SUBJECT_PREFIX, engineToken, Subjects } from './subjects.js';
