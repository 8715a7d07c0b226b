import type { EncodedBody, EngineMessage, KeyPair, NodeId, TopicAdvert, TopicId } from '@netmachine/core';
import { noteDropped, type PubSubContext } from './context.js';
import { PubSubProtocol, packEventRun, type SubscribeReply, SubscribeStatus, signEvent } from './protocol.js';
import { type LinkLimits, type OutgoingEvent, SubscriberLink } from './subscriber-link.js';

export interface PublisherOptions extends LinkLimits {
  /** Subscriber nodes this node serves at most (over all topics). */
  readonly maxSubscriberNodes: number;
  /** Sign events: always (true), never (false), or when a subscriber of the topic asks (undefined). */
  readonly signEvents: boolean | undefined;
  /** This publisher session; subscribers restart their sequence tracking when it changes. */
  readonly epoch: number;
  readonly nodeKey: KeyPair;
}

interface PublishedTopic {
  advert: TopicAdvert;
  seq: number;
  /** Subscriber nodes that asked for signed events. */
  signedFor: number;
  /** Copy-on-write: a publish in progress keeps iterating the array it started with. */
  links: SubscriberLink[];
}

/** How many departed subscriptions the publisher remembers the last sequence number of. */
const MAX_DEPARTED = 65_536;

/**
 * The publisher half: topics whose authorized publisher runs on this node, the subscriber nodes of
 * each (one entry per node, however many local subscribers it has), and the forwarding of local
 * publishes to them through bounded, acknowledged links.
 */
export class PublisherSide {
  private readonly topics = new Map<TopicId, PublishedTopic>();
  private readonly links = new Map<NodeId, SubscriberLink>();
  /** `topic node` → last sequence sent, for subscribers that disconnected: they learn their gap. */
  private readonly departed = new Map<string, number>();
  /** Links with events numbered this turn, sent together once the turn's publishes are done. */
  private readonly unflushed = new Set<SubscriberLink>();
  private flushQueued = false;
  /** The last batch packed, reused by the next link that sends exactly the same events. */
  private lastBatch: { events: readonly OutgoingEvent[]; bytes: Uint8Array } | undefined;

  constructor(
    private readonly context: PubSubContext,
    private readonly options: PublisherOptions,
  ) {}

  /** Starts (or updates) publishing `advert.id` from this node. */
  addTopic(advert: TopicAdvert): void {
    const entry = this.topics.get(advert.id);
    if (entry !== undefined) entry.advert = advert;
    else this.topics.set(advert.id, { advert, seq: 0, signedFor: 0, links: [] });
  }

  hasTopic(topic: TopicId): boolean {
    return this.topics.has(topic);
  }

  /** Stops publishing `topic`; returns the subscriber nodes it had. */
  removeTopic(topic: TopicId): NodeId[] {
    const entry = this.topics.get(topic);
    if (entry === undefined) return [];
    this.topics.delete(topic);
    const nodes: NodeId[] = [];
    for (const link of entry.links) {
      nodes.push(link.node);
      this.detach(link, topic, 'topic-deleted');
    }
    return nodes;
  }

  subscriberNodes(topic: TopicId): NodeId[] {
    return this.topics.get(topic)?.links.map((link) => link.node) ?? [];
  }

  lastSeq(topic: TopicId): number | undefined {
    return this.topics.get(topic)?.seq;
  }

  link(node: NodeId): SubscriberLink | undefined {
    return this.links.get(node);
  }

  /** A local publish (already authorized by the router). Returns false when it is not ours to forward. */
  published(message: EngineMessage): boolean {
    const topic = (message.dst as { topic: TopicId }).topic;
    const entry = this.topics.get(topic);
    if (entry === undefined) return false;
    this.context.counters.published++;
    const seq = ++entry.seq;
    const links = entry.links;
    if (links.length === 0) return true;
    // One object literal with every field (one hidden class): the links read these fields for
    // every event they batch.
    const event: OutgoingEvent = {
      topic,
      publisher: message.src,
      seq,
      epoch: this.options.epoch,
      protocol: message.protocol,
      body: message.body,
      expiry: message.expiry,
      sig: undefined,
      fields: undefined,
      size: sizeOf(message.body),
    };
    if (this.options.signEvents ?? entry.signedFor > 0) {
      this.context.counters.eventsSigned++;
      event.sig = signEvent(this.options.nodeKey, event);
    }
    for (const link of links) link.offer(event);
    return true;
  }

  handleSubscribe(node: NodeId, topic: TopicId, wantsSignatures = false): SubscribeReply {
    const entry = this.topics.get(topic);
    if (entry === undefined) return refusal(SubscribeStatus.UnknownTopic);
    let link = this.links.get(node);
    const existing = link?.topics.get(topic);
    if (link !== undefined && existing !== undefined) {
      // A re-subscribe (typically after a reconnect): idempotent, and whatever was in flight is lost.
      link.reset();
      if (existing.wantsSignatures !== wantsSignatures) {
        entry.signedFor += wantsSignatures ? 1 : -1;
        existing.wantsSignatures = wantsSignatures;
      }
      return this.accepted(entry, existing.lastSent);
    }
    if (link === undefined) {
      if (this.links.size >= this.options.maxSubscriberNodes) return refusal(SubscribeStatus.OverCapacity);
      link = new SubscriberLink(node, this.options, this.linkOutput);
      this.links.set(node, link);
    }
    const key = departedKey(topic, node);
    const remembered = this.departed.get(key);
    this.departed.delete(key);
    link.topics.set(topic, { lastSent: remembered ?? entry.seq, wantsSignatures });
    if (wantsSignatures) entry.signedFor++;
    entry.links = [...entry.links, link];
    this.context.counters.subscribersAdded++;
    this.context.events.emit({ type: 'subscriber:added', topic, node });
    return this.accepted(entry, remembered);
  }

  handleUnsubscribe(node: NodeId, topic: TopicId): SubscribeStatus {
    const link = this.links.get(node);
    if (link === undefined || !link.topics.has(topic)) return SubscribeStatus.NotSubscribed;
    this.departed.delete(departedKey(topic, node));
    this.detach(link, topic, 'unsubscribed');
    return SubscribeStatus.Ok;
  }

  ack(node: NodeId, n: number): void {
    this.links.get(node)?.ack(n);
  }

  /** A subscriber node's connection is gone: its subscriptions end; it re-subscribes on return. */
  peerDisconnected(node: NodeId): void {
    const link = this.links.get(node);
    if (link === undefined) return;
    for (const [topic, subscription] of [...link.topics]) {
      this.remember(departedKey(topic, node), subscription.lastSent);
      this.detach(link, topic, 'disconnected');
    }
  }

  clear(): void {
    this.unflushed.clear();
    this.lastBatch = undefined;
    for (const link of this.links.values()) link.clear();
    this.links.clear();
    this.topics.clear();
    this.departed.clear();
  }

  private accepted(entry: PublishedTopic, lastSent: number | undefined): SubscribeReply {
    return {
      status: SubscribeStatus.Ok,
      epoch: this.options.epoch,
      seq: entry.seq,
      lastSent,
      window: this.options.window,
    };
  }

  private detach(
    link: SubscriberLink,
    topic: TopicId,
    reason: 'unsubscribed' | 'disconnected' | 'topic-deleted',
  ): void {
    const subscription = link.topics.get(topic);
    link.topics.delete(topic);
    const entry = this.topics.get(topic);
    if (entry !== undefined) {
      entry.links = entry.links.filter((l) => l !== link);
      if (subscription?.wantsSignatures) entry.signedFor--;
    }
    if (link.topics.size === 0) {
      this.links.delete(link.node);
      const dropped = link.clear();
      if (dropped > 0) {
        this.context.counters.dropped.disconnected += dropped;
        if (this.context.events.active) {
          this.context.events.emit({ type: 'message:dropped', reason: 'disconnected', node: link.node });
        }
      }
    }
    this.context.counters.subscribersRemoved++;
    this.context.events.emit({ type: 'subscriber:removed', topic, node: link.node, reason });
  }

  private remember(key: string, lastSent: number): void {
    if (this.departed.size >= MAX_DEPARTED) {
      const oldest = this.departed.keys().next().value;
      if (oldest !== undefined) this.departed.delete(oldest);
    }
    this.departed.set(key, lastSent);
  }

  private readonly flushAll = (): void => {
    this.flushQueued = false;
    for (const link of this.unflushed) link.flush();
    this.unflushed.clear();
    this.lastBatch = undefined;
  };

  private readonly linkOutput = {
    send: (node: NodeId, body: EncodedBody, expiry: number | undefined, events: number): void => {
      this.context.counters.eventsSent += events;
      this.context.send(node, events === 1 ? PubSubProtocol.Event : PubSubProtocol.Events, body, expiry);
    },
    schedule: (link: SubscriberLink): void => {
      this.unflushed.add(link);
      if (this.flushQueued) return;
      this.flushQueued = true;
      // A microtask runs once the publishing code yields: every event it published in a loop
      // is in the outboxes by then, and nothing waits for a timer.
      queueMicrotask(this.flushAll);
    },
    run: (events: readonly OutgoingEvent[]): Uint8Array => {
      const last = this.lastBatch;
      if (last !== undefined && sameEvents(last.events, events)) return last.bytes;
      const bytes = packEventRun(events);
      this.lastBatch = { events, bytes };
      return bytes;
    },
    overflow: (link: SubscriberLink, evicted: OutgoingEvent): void => {
      noteDropped(this.context, 'queue-overflow', { topic: evicted.topic, node: link.node });
      if (this.context.events.active) {
        this.context.events.emit({
          type: 'queue:overflow',
          node: link.node,
          topic: evicted.topic,
          seq: evicted.seq,
          queued: link.queued,
        });
      }
    },
  };
}

/** Bytes an event adds to a run, about: its body's, when it is bytes or text, plus its own fields. */
function sizeOf(body: unknown): number {
  if (body instanceof Uint8Array) return body.length + 16;
  if (typeof body === 'string') return body.length * 3 + 16;
  return 256;
}

function sameEvents(a: readonly OutgoingEvent[], b: readonly OutgoingEvent[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function departedKey(topic: TopicId, node: NodeId): string {
  return `${topic} ${node}`;
}

function refusal(status: SubscribeStatus): SubscribeReply {
  return { status, epoch: 0, seq: 0, lastSent: undefined, window: 0 };
}
