import type { NodeId, TopicId } from '@netmachine/core';
import type { DomainTopicBatch, DomainTopicEvent } from './domain-pubsub-options.js';
import { LentBatchEndedError } from './errors.js';
import type { TreeBatch } from './tree-batch.js';

/**
 * A verified batch handed to local subscribers: one object per batch whatever its size. Expiry is
 * judged once, at `now`: when no event of the batch can have expired (the usual case) the walk is
 * the batch's own; otherwise expired events are skipped and counted in `expired`. A batch lent to
 * its listeners (their memory is reused once they return) is ended after them: reading it then throws.
 */
export class DeliveredBatch implements DomainTopicBatch {
  readonly count: number;
  /** Events past their expiry at `now` (skipped). */
  readonly expired: number;
  readonly #batch: TreeBatch;
  readonly #now: number;
  #ended = false;

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

  /** The listeners have returned and the batch's memory goes back to be reused. */
  end(): void {
    this.#ended = true;
  }

  forEach(fn: (payload: Uint8Array, seq: number, expiry: number) => void): void {
    if (this.#ended) throw new LentBatchEndedError(this.topic);
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
