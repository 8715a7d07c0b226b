export {
  AttachedEngine,
  type AttachedEngineCounters,
  type AttachedEngineEvent,
  type AttachOptions,
  attachEngine,
} from './attach.js';
export {
  type BridgeEvent,
  type BridgeRouter,
  NatsBridge,
  type NatsBridgeCounters,
  type NatsBridgeOptions,
  type NatsBridgeStatus,
  type OutRejection,
} from './bridge.js';
export {
  type AttachRefusal,
  AttachRefusedError,
  BridgeError,
  NotAttachedError,
  UnsupportedOperationError,
} from './errors.js';
export type { LinkEvent, LinkOptions } from './nats-link.js';
export { MAX_TOPICS_PER_INSTANCE } from './protocol.js';
export { DEFAULT_SUBJECT_PREFIX, engineToken, Subjects } from './subjects.js';
