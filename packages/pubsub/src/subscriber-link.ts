import type { EncodedBody, NodeId, TopicId } from '@netmachine/core';
import { RingQueue } from '@netmachine/router';
import { eventMessageBody } from './protocol.js';

/** One published event, encoded once and shared by every subscriber link. */
export interface OutgoingEvent {
  readonly topic: TopicId;
  readonly seq: number;
  /** The wire fields without the link number, encoded once (see `packEventFields`). */
  readonly fields: Uint8Array;
  readonly expiry: number | undefined;
}

export interface LinkLimits {
  /** Events sent but not yet acknowledged, at most. */
  readonly window: number;
  /** Events waiting for the window to open, at most; past it the oldest is evicted. */
  readonly queueSize: number;
}

export interface LinkOutput {
  send(node: NodeId, body: EncodedBody, expiry: number | undefined): void;
  /** `evicted` was dropped from a full queue to make room (policy drop-oldest). */
  overflow(link: SubscriberLink, evicted: OutgoingEvent): void;
}

/** What the publisher keeps per topic a subscriber node is subscribed to. */
export interface LinkSubscription {
  /** The last sequence number handed to the router for this node (for gap reports on resubscribe). */
  lastSent: number;
  /** The subscriber verifies signatures: events of this topic must be signed. */
  wantsSignatures: boolean;
}

/**
 * The publisher's view of one subscriber node: its topics, and the flow control that keeps a slow
 * node from growing the publisher's memory. Events go out while fewer than `window` are
 * unacknowledged; the rest wait in a queue of `queueSize`, and a full queue evicts its oldest
 * event (the subscriber sees the hole as a counted gap). Acknowledgements are cumulative link
 * numbers `n`, one counter per link whatever the topic, so one ack covers every topic.
 */
export class SubscriberLink {
  readonly topics = new Map<TopicId, LinkSubscription>();
  private readonly queue: RingQueue<OutgoingEvent>;
  private sentN = 0;
  private ackedN = 0;

  constructor(
    readonly node: NodeId,
    private readonly limits: LinkLimits,
    private readonly out: LinkOutput,
  ) {
    this.queue = new RingQueue(limits.queueSize);
  }

  get inFlight(): number {
    return this.sentN - this.ackedN;
  }

  get queued(): number {
    return this.queue.length;
  }

  offer(event: OutgoingEvent): void {
    if (this.queue.length === 0 && this.inFlight < this.limits.window) {
      this.transmit(event);
      return;
    }
    if (this.queue.push(event)) return;
    const evicted = this.queue.shift() as OutgoingEvent;
    this.queue.push(event);
    this.out.overflow(this, evicted);
  }

  /** The subscriber node received every event up to link number `n`. */
  ack(n: number): void {
    const upTo = Math.min(n, this.sentN);
    if (upTo <= this.ackedN) return;
    this.ackedN = upTo;
    this.pump();
  }

  /** Forgives the events in flight: after a re-subscribe, lost ones will never be acknowledged. */
  reset(): void {
    this.ackedN = this.sentN;
    this.pump();
  }

  /** Empties the queue; returns how many events were dropped. */
  clear(): number {
    return this.queue.drain().length;
  }

  private pump(): void {
    while (this.inFlight < this.limits.window) {
      const event = this.queue.shift();
      if (event === undefined) return;
      this.transmit(event);
    }
  }

  private transmit(event: OutgoingEvent): void {
    // An event queued before its topic was unsubscribed is simply not sent: nobody misses it.
    const subscription = this.topics.get(event.topic);
    if (subscription === undefined) return;
    subscription.lastSent = event.seq;
    this.sentN++;
    this.out.send(this.node, eventMessageBody(event.fields, this.sentN), event.expiry);
  }
}
