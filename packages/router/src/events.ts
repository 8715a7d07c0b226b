import type { EngineAddress, EngineMessage, TopicId } from '@netmachine/core';
import type { DropReason } from './counters.js';

/** Events the router reports, for logs, metrics and tests. */
export type RouterEvent =
  | { type: 'dropped'; reason: DropReason; message: EngineMessage; error?: Error }
  | { type: 'handler-error'; engine: EngineAddress; error: unknown }
  | { type: 'engine-started'; engine: EngineAddress }
  | { type: 'engine-stopped'; engine: EngineAddress; error?: unknown }
  | { type: 'mailbox-full'; engine: EngineAddress; policy: string; queued: number }
  | { type: 'subscribed'; topic: TopicId; engine: EngineAddress; localSubscribers: number }
  | { type: 'unsubscribed'; topic: TopicId; engine: EngineAddress; localSubscribers: number };

export type RouterEventListener = (event: RouterEvent) => void;

/**
 * A minimal synchronous listener list. Listeners must not throw; one that does is removed from the
 * dispatch by catching, so a faulty observer cannot break message delivery.
 */
export class EventHub {
  private listeners: RouterEventListener[] = [];

  get active(): boolean {
    return this.listeners.length > 0;
  }

  on(listener: RouterEventListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  emit(event: RouterEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // An observer's bug must not affect delivery.
      }
    }
  }
}
