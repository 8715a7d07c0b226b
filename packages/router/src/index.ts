export { type AnycastCounters, MAX_ANYCAST_ATTEMPTS, MIN_ATTEMPT_MS } from './anycast.js';
export { DROP_REASONS, type DropReason, type RouterCounters } from './counters.js';
export { DEFAULT_MAILBOX_SIZE, type EngineClient } from './engine.js';
export type { EventHub, RouterEvent, RouterEventListener } from './events.js';
export { RingQueue } from './ring-queue.js';
export {
  DEFAULT_PROTOCOL,
  DEFAULT_REQUEST_TIMEOUT_MS,
  Router,
  type RouterOptions,
  type RouterStatus,
} from './router.js';
export type { LocalTopic, TopicDelegate } from './topic-table.js';
