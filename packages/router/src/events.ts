import { Emitter, type EngineAddress, type EngineMessage, type TopicId } from '@netmachine/core';
import type { DropReason } from './counters.js';

/** Events the router reports, for logs, metrics and tests. */
export type RouterEvent =
  | { type: 'message:dropped'; reason: DropReason; message: EngineMessage; error?: Error }
  | { type: 'engine:error'; engine: EngineAddress; error: unknown }
  | { type: 'engine:started'; engine: EngineAddress }
  | { type: 'engine:stopped'; engine: EngineAddress; error?: unknown }
  | { type: 'mailbox:full'; engine: EngineAddress; policy: string; queued: number }
  | { type: 'topic:subscribed'; topic: TopicId; engine: EngineAddress; localSubscribers: number }
  | { type: 'topic:unsubscribed'; topic: TopicId; engine: EngineAddress; localSubscribers: number };

export type RouterEventListener = (event: RouterEvent) => void;

/** The router's emitter: core's typed emitter over RouterEvent. */
export class EventHub extends Emitter<RouterEvent> {}
