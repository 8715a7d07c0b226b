import type { NodeId, TopicId } from '@netmachine/core';
import type { DomainTopicBatch, DomainTopicEvent } from './domain-pubsub-options.js';
import type { TreeBatch } from './tree-batch.js';

/**
 * A verified batch handed to local subscribers: one object per batch whatever its size. Expiry is
 * judged once, at `now`: when no event of the batch can have expired (the usual case) the walk is
 * the batch's own; otherwise expired events are skipped and counted in `expired`.
 */
export class DeliveredBatch implements DomainTopicBatch {
  readonly count: number;
  /** Events past their expiry at `now` (skipped). */
  readonly expired: number;
  readonly #batch: TreeBatch;
  readonly #now: number;

  constructor(
    batch: TreeBatch,
    readonly topic: TopicId,
    readonly publisher: NodeId,
    now: number,
  ) {
    this.#batch = batch;
    this.#now = now;
    let expired = 0;
    if (batch.minExpiry !== 0 && batch.minExpiry < now)
      batch.forEach((_payload, _seq, expiry) => {
        if (expiry !== 0 && expiry < now) expired++;
      });
    this.expired = expired;
    this.count = batch.count - expired;
  }

  get epoch(): number {
    return this.#batch.epoch;
  }

  get firstSeq(): number {
    return this.#batch.firstSeq;
  }

  forEach(fn: (payload: Uint8Array, seq: number, expiry: number) => void): void {
    if (this.expired === 0) {
      this.#batch.forEach(fn);
      return;
    }
    const now = this.#now;
    this.#batch.forEach((payload, seq, expiry) => {
      if (expiry === 0 || expiry >= now) fn(payload, seq, expiry);
    });
  }

  *[Symbol.iterator](): Iterator<DomainTopicEvent> {
    const events: DomainTopicEvent[] = [];
    const { topic, publisher, epoch } = this;
    this.forEach((payload, seq, expiry) => {
      events.push({ topic, publisher, epoch, seq, expiry, payload });
    });
    yield* events;
  }
}
