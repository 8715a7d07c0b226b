import { type EngineAddress, sameEngine, type TopicId } from '@netmachine/core';
import type { TopicEvent } from './protocol.js';

interface Tracked {
  publisher: EngineAddress;
  epoch: number;
  /** The highest sequence number accounted for (delivered, or reported missing). */
  last: number;
}

export interface SequenceObserver {
  gap(topic: TopicId, publisher: EngineAddress, from: number, to: number): void;
  restarted(topic: TopicId, publisher: EngineAddress): void;
}

/**
 * The subscriber's record of the last sequence number per (topic, publisher, epoch). Events that do
 * not follow on are never passed silently: a jump is a reported gap, a repeat is a duplicate.
 */
export class SequenceTracker {
  private readonly topics = new Map<TopicId, Tracked>();

  constructor(private readonly observer: SequenceObserver) {}

  /** Accounts for `event`; returns false for a duplicate (seq already seen). */
  accept(event: TopicEvent): boolean {
    const tracked = this.topics.get(event.topic);
    if (tracked === undefined || !sameEngine(tracked.publisher, event.publisher)) {
      // First event seen: nothing before it was ours to receive.
      this.topics.set(event.topic, { publisher: event.publisher, epoch: event.epoch, last: event.seq });
      return true;
    }
    if (tracked.epoch !== event.epoch) {
      // The publisher restarted: its numbering starts again at 1.
      this.observer.restarted(event.topic, event.publisher);
      tracked.epoch = event.epoch;
      tracked.last = 0;
    }
    if (event.seq <= tracked.last) return false;
    if (event.seq > tracked.last + 1) {
      this.observer.gap(event.topic, event.publisher, tracked.last + 1, event.seq - 1);
    }
    tracked.last = event.seq;
    return true;
  }

  /**
   * The publisher recorded us, at its sequence `seq`. Everything up to `seq` that we did not get is
   * lost for good, so it is reported now rather than at the next event. Without a record of our own
   * (a fresh subscription, or this node restarted), `lastSent` — what the publisher last sent us,
   * when it remembers — is where we left off.
   */
  baseline(
    topic: TopicId,
    publisher: EngineAddress,
    epoch: number,
    seq: number,
    lastSent: number | undefined,
  ): void {
    const tracked = this.topics.get(topic);
    let from: number;
    if (tracked !== undefined && sameEngine(tracked.publisher, publisher)) {
      if (tracked.epoch === epoch) {
        from = tracked.last;
      } else {
        this.observer.restarted(topic, publisher);
        from = 0;
      }
    } else {
      from = lastSent ?? seq;
    }
    if (seq > from) this.observer.gap(topic, publisher, from + 1, seq);
    this.topics.set(topic, { publisher, epoch, last: Math.max(from, seq) });
  }

  forget(topic: TopicId): void {
    this.topics.delete(topic);
  }

  last(topic: TopicId): number | undefined {
    return this.topics.get(topic)?.last;
  }
}
