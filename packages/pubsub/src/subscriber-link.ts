import type { NodeId, TopicId } from '@netmachine/core';
import { EncodedBody } from '@netmachine/core';
import { RingQueue } from '@netmachine/router';
import { continuesRun, eventMessageBody, packEventFields, type TopicEvent } from './protocol.js';

/** One published event, shared by every subscriber link. */
export interface OutgoingEvent extends Omit<TopicEvent, 'sig'> {
  /** The publisher node's signature, when the topic's events are signed. */
  sig: Uint8Array | undefined;
  /** Its `pubsub/event@1` fields without the link number, packed once when first sent alone. */
  fields: Uint8Array | undefined;
  /** Its wire size, roughly (for the batch byte limit). */
  readonly size: number;
}

export interface LinkLimits {
  /** Events sent but not yet acknowledged, at most. */
  readonly window: number;
  /** Events waiting for the window to open, at most; past it the oldest is evicted. */
  readonly queueSize: number;
  /**
   * Events sent in one turn go out as one `pubsub/events@1` message of at most this many events
   * (and about `maxBatchBytes`); 1 sends every event as its own `pubsub/event@1`.
   */
  readonly maxBatch: number;
  readonly maxBatchBytes: number;
}

export interface LinkOutput {
  send(node: NodeId, body: EncodedBody, expiry: number | undefined, events: number): void;
  /** `link` has events waiting to be sent at the end of this turn: call `flush` then. */
  schedule(link: SubscriberLink): void;
  /** The packed run of `events` (see `packEventRun`), shared by links that send the same events. */
  run(events: readonly OutgoingEvent[]): Uint8Array;
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
  /** Events inside the window, numbered, waiting for the end of the turn to leave as one message. */
  private outbox: OutgoingEvent[] = [];
  private outboxBytes = 0;

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

  /** Empties the queue and the unsent outbox; returns how many events were dropped. */
  clear(): number {
    const unsent = this.outbox.length;
    this.outbox = [];
    this.outboxBytes = 0;
    return this.queue.drain().length + unsent;
  }

  /**
   * Sends what this turn numbered: one message per run of consecutive events of one topic (usually
   * one message), a lone event as `pubsub/event@1`.
   */
  flush(): void {
    const events = this.outbox;
    if (events.length === 0) return;
    this.outbox = [];
    this.outboxBytes = 0;
    let n = this.sentN - events.length;
    let start = 0;
    for (let i = 1; i <= events.length; i++) {
      if (i < events.length && continuesRun(events[i - 1] as OutgoingEvent, events[i] as OutgoingEvent))
        continue;
      n += i - start;
      this.sendRun(start === 0 && i === events.length ? events : events.slice(start, i), n);
      start = i;
    }
  }

  private sendRun(run: OutgoingEvent[], n: number): void {
    if (run.length === 1) {
      this.sendAlone(run[0] as OutgoingEvent, n);
      return;
    }
    // The message lives as long as its longest-lived event: each event's own expiry is still
    // applied when it is delivered.
    let expiry: number | undefined = 0;
    for (const event of run) {
      if (event.expiry === undefined) {
        expiry = undefined;
        break;
      }
      expiry = Math.max(expiry, event.expiry);
    }
    this.out.send(this.node, new EncodedBody(this.out.run(run), n), expiry, run.length);
  }

  private sendAlone(event: OutgoingEvent, n: number): void {
    event.fields ??= packEventFields(event);
    this.out.send(this.node, eventMessageBody(event.fields, n), event.expiry, 1);
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
    if (this.limits.maxBatch <= 1) {
      this.sendAlone(event, this.sentN);
      return;
    }
    if (this.outbox.length === 0) this.out.schedule(this);
    this.outbox.push(event);
    this.outboxBytes += event.size;
    if (this.outbox.length >= this.limits.maxBatch || this.outboxBytes >= this.limits.maxBatchBytes)
      this.flush();
  }
}
