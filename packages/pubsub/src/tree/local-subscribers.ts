import { type Logger, type TopicId, topicIdFromBytes } from '@netmachine/core';
import type { CursorStore } from './cursor-store.js';
import type {
  DomainTopicBatchListener,
  DomainTopicEvent,
  DomainTopicListener,
} from './domain-pubsub-options.js';
import { DEFAULT_GAP_TIMEOUT_MS, type StreamPosition } from './stream-receiver.js';
import type { TreeBatch } from './tree-batch.js';

// This node's subscribers to domain topics, and where each subscribed stream resumes: from a saved
// cursor after a restart, or from its start when the subscription is older than the publisher's
// session. Delivery itself (per batch) stays in the pub/sub, reading the listener map directly.

/**
 * How often the pub/sub does its upkeep (gap timeouts, heartbeats, saving moved cursors): often
 * enough for both the cursor save period and a quarter of the gap timeout, and not under 20 ms.
 */
export function upkeepIntervalMs(options: { gapTimeoutMs?: number; cursorSaveMs?: number }): number {
  const gapTimeoutMs = options.gapTimeoutMs ?? DEFAULT_GAP_TIMEOUT_MS;
  return Math.max(20, Math.min(options.cursorSaveMs ?? 250, gapTimeoutMs / 4));
}

export type TopicListeners = Map<TopicId, Set<DomainTopicBatchListener>>;

/**
 * Adds a batch listener for `topic`, noting when the topic first got a subscriber (a stream that
 * began after it is wanted from its start). Returns the unsubscribe.
 */
export function addBatchListener(
  listeners: TopicListeners,
  subscribedAt: Map<TopicId, number>,
  topic: TopicId,
  listener: DomainTopicBatchListener,
): () => void {
  let set = listeners.get(topic);
  if (set === undefined) {
    set = new Set();
    listeners.set(topic, set);
    if (!subscribedAt.has(topic)) subscribedAt.set(topic, Date.now());
  }
  set.add(listener);
  return () => {
    set.delete(listener);
    if (set.size === 0) listeners.delete(topic);
  };
}

/** A per-event listener as a batch listener: one event object per event, and a throw is logged, not passed on. */
export function perEventListener(listener: DomainTopicListener, logger: Logger): DomainTopicBatchListener {
  return (batch) => {
    const { topic, publisher, epoch } = batch;
    batch.forEach((payload, seq, expiry) => {
      try {
        listener({ topic, publisher, epoch, seq, expiry, payload } satisfies DomainTopicEvent);
      } catch (error) {
        logger.warn({ err: error, topic }, 'domain topic listener threw');
      }
    });
  };
}

/** The subscriber cursors saved by the last run, and saving this run's. */
export class SubscriberCursors {
  readonly #store: CursorStore | undefined;
  readonly #logger: Logger;
  #persisted = new Map<string, StreamPosition>();

  constructor(store: CursorStore | undefined, logger: Logger) {
    this.#store = store;
    this.#logger = logger;
  }

  /** True when there is a store to save to. */
  get enabled(): boolean {
    return this.#store !== undefined;
  }

  async load(): Promise<void> {
    if (this.#store) this.#persisted = await this.#store.load();
  }

  /** Where a stream new to this node starts: its saved cursor, else its start if subscribed before it began. */
  initial(
    stream: string,
    batch: TreeBatch,
    subscribedAt: ReadonlyMap<TopicId, number>,
  ): StreamPosition | undefined {
    const saved = this.#persisted.get(stream);
    if (saved !== undefined) return saved;
    // Subscribed before the publisher's session began (its epoch is its start time): all of it is wanted.
    const since = subscribedAt.get(topicIdFromBytes(batch.topic));
    return since !== undefined && since <= batch.epoch ? { epoch: batch.epoch, cursor: 0 } : undefined;
  }

  /** Saves `positions` over the loaded ones (streams not seen this run keep their cursors); a failure is logged. */
  async save(positions: ReadonlyMap<string, StreamPosition>): Promise<void> {
    if (this.#store === undefined) return;
    try {
      await this.#store.save(new Map([...this.#persisted, ...positions]));
    } catch (error) {
      this.#logger.warn({ err: error }, 'subscriber cursors not saved');
    }
  }
}
