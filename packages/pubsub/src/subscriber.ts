import {
  AbortedError,
  type EngineMessage,
  type NodeId,
  RequestTimeoutError,
  sameEngine,
  type TopicAdvert,
  type TopicId,
} from '@netmachine/core';
import { type AckOptions, AckSender } from './ack-sender.js';
import { noteDropped, type PubSubContext } from './context.js';
import { DeliveryHold } from './delivery-hold.js';
import { NotSubscribedError, SubscriptionDeniedError } from './errors.js';
import {
  PubSubProtocol,
  readEvent,
  readEventLinkNumber,
  readEventRun,
  readSubscribeReply,
  SUBSCRIBE_STATUS_TEXT,
  SubscribeStatus,
  subscribeRequestToWire,
  type TopicEvent,
  verifyEventSignature,
} from './protocol.js';
import { SequenceTracker } from './sequence-tracker.js';

/** Where a topic with local subscribers stands with its publisher node. */
export type RemoteState =
  /** No advert known yet: we subscribe as soon as one arrives. */
  | 'awaiting-advert'
  /** The publisher runs on this node: the router's local multicast is all there is to do. */
  | 'local'
  | 'subscribing'
  | 'subscribed'
  /** The last attempt failed; a retry is scheduled (and one is made when the node reconnects). */
  | 'failed'
  /** The publisher node's connection dropped; we re-subscribe when it is back, or on a retry. */
  | 'disconnected';

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

interface RemoteSubscription {
  readonly topic: TopicId;
  publisherNode: NodeId | undefined;
  state: RemoteState;
  /** Bumped whenever an answer in flight stops being relevant. */
  generation: number;
  subscribedBefore: boolean;
  readonly waiters: Set<Waiter>;
  retryTimer: NodeJS.Timeout | undefined;
  retryDelayMs: number;
}

export interface SubscriberOptions extends AckOptions {
  readonly requestTimeoutMs: number;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  readonly verifyEventSignatures: boolean;
}

export interface SubscriberIo {
  advert(topic: TopicId): TopicAdvert | undefined;
  request(node: NodeId, protocol: string, body: unknown, timeoutMs: number): Promise<EngineMessage>;
  /** Hands an authenticated event to the local subscribers; returns how many got it. */
  deliver(event: EngineMessage): number;
  /** Events `topic`'s local subscribers can take now (the fewest free mailbox places; Infinity if none). */
  room(topic: TopicId): number;
}

/**
 * Events a publisher node may have waiting here for its subscribers' mailboxes: far above any
 * window a publisher keeps to (1,024 by default), so only a node that ignores it is cut.
 */
const MAX_HELD_EVENTS = 16_384;

/**
 * The subscriber half: one remote subscription per topic with local subscribers (whatever their
 * number), kept alive across reconnects, and the checks every received event passes before the
 * router fans it out: authorized source, authorized publisher, signature when asked, sequence.
 */
export class SubscriberSide {
  private readonly wanted = new Map<TopicId, RemoteSubscription>();
  private readonly acks: AckSender;
  private readonly tracker: SequenceTracker;
  private readonly hold: DeliveryHold;
  private stopped = false;

  constructor(
    private readonly context: PubSubContext,
    private readonly io: SubscriberIo,
    private readonly options: SubscriberOptions,
  ) {
    this.acks = new AckSender(options, (node, n) => context.send(node, PubSubProtocol.Ack, [n]));
    this.tracker = new SequenceTracker({
      gap: (topic, publisher, from, to) => {
        context.counters.gaps++;
        context.counters.missedEvents += to - from + 1;
        context.logger.debug({ topic, from, to }, 'sequence gap');
        context.events.emit({ type: 'topic:gap', topic, publisher, from, to });
      },
      restarted: (topic, publisher) => context.events.emit({ type: 'publisher:restarted', topic, publisher }),
    });
    // Acknowledged once the local subscribers took the events (not on arrival): a full mailbox then
    // closes the publisher's window instead of refusing events this node already acknowledged.
    this.hold = new DeliveryHold(
      {
        room: (topic) => io.room(topic),
        deliver: (from, event, id) => this.accept(from, event, id),
        ack: (from, event, n) => {
          if (this.check(from, event)) this.acks.received(from, n);
        },
        overflow: (from, events) => {
          for (const event of events)
            noteDropped(this.context, 'flow-violation', { topic: event.topic, node: from });
        },
      },
      MAX_HELD_EVENTS,
    );
  }

  state(topic: TopicId): RemoteState | undefined {
    return this.wanted.get(topic)?.state;
  }

  lastSeq(topic: TopicId): number | undefined {
    return this.tracker.last(topic);
  }

  // --- local subscription changes ---------------------------------------------------------------

  localSubscribersChanged(topic: TopicId, count: number): void {
    if (this.stopped) return;
    const existing = this.wanted.get(topic);
    if (count > 0) {
      if (existing !== undefined) return;
      const subscription: RemoteSubscription = {
        topic,
        publisherNode: undefined,
        state: 'awaiting-advert',
        generation: 0,
        subscribedBefore: false,
        waiters: new Set(),
        retryTimer: undefined,
        retryDelayMs: this.options.retryMinMs,
      };
      this.wanted.set(topic, subscription);
      const advert = this.io.advert(topic);
      if (advert !== undefined) this.follow(subscription, advert);
      return;
    }
    if (existing === undefined) return;
    this.wanted.delete(topic);
    this.leave(existing);
    this.tracker.forget(topic);
    this.settle(existing, new NotSubscribedError(topic));
  }

  /** A topic's advert arrived or changed (`undefined`: the topic was deleted). */
  advertChanged(topic: TopicId, advert: TopicAdvert | undefined): void {
    const subscription = this.wanted.get(topic);
    if (subscription === undefined) return;
    if (advert === undefined) {
      // The publisher dropped its subscribers itself when the topic was deleted.
      subscription.generation++;
      this.clearRetry(subscription);
      subscription.publisherNode = undefined;
      subscription.state = 'awaiting-advert';
      this.tracker.forget(topic);
      return;
    }
    if (subscription.publisherNode === advert.publisher.node && subscription.state !== 'awaiting-advert')
      return;
    this.leave(subscription);
    this.follow(subscription, advert);
  }

  // --- connectivity -------------------------------------------------------------------------

  /**
   * Re-sends the subscriptions to `node`. One in flight is left alone: the connection that just
   * came up is usually the one our own request opened, and a request lost with an older connection
   * was already turned into `disconnected` by the disconnect notification.
   */
  peerConnected(node: NodeId): void {
    for (const subscription of this.wanted.values()) {
      if (subscription.publisherNode !== node) continue;
      if (subscription.state === 'local' || subscription.state === 'subscribing') continue;
      this.subscribeRemote(subscription);
    }
  }

  peerDisconnected(node: NodeId): void {
    this.acks.forget(node);
    for (const subscription of this.wanted.values()) {
      if (subscription.publisherNode !== node || subscription.state === 'local') continue;
      subscription.generation++;
      subscription.state = 'disconnected';
      // Do not wait for a reconnect notice: an ephemeral connection (closed when idle) is only
      // re-opened by traffic, and our subscribe request is that traffic.
      this.scheduleRetry(subscription);
    }
  }

  // --- events from publisher nodes -------------------------------------------------------------

  handleEvent(message: EngineMessage): void {
    const from = message.src.node;
    this.context.counters.eventsReceived++;
    let event: TopicEvent;
    try {
      event = readEvent(message.body);
    } catch (error) {
      noteDropped(this.context, 'malformed', { node: from, error: error as Error });
      return;
    }
    this.hold.offer(from, [event], readEventLinkNumber(message.body), message.id);
  }

  /**
   * A run of events from one publisher node (`pubsub/events@1`): each is checked and delivered in
   * order exactly as if it had come alone, and the run is acknowledged once.
   */
  handleEvents(message: EngineMessage): void {
    const from = message.src.node;
    let run: ReturnType<typeof readEventRun>;
    try {
      run = readEventRun(message.body);
    } catch (error) {
      this.context.counters.eventsReceived++;
      noteDropped(this.context, 'malformed', { node: from, error: error as Error });
      return;
    }
    const { events, lastN } = run;
    this.context.counters.eventsReceived += events.length;
    this.hold.offer(from, events, lastN, message.id);
  }

  /**
   * True when the event names a topic we know published from `from`: only such publisher nodes get
   * acknowledgement state (bounded by the adverts we hold), whatever becomes of the event.
   */
  private check(from: NodeId, event: TopicEvent): boolean {
    return this.io.advert(event.topic)?.publisher.node === from;
  }

  /** The checks every event passes before the router fans it out, then the fan-out. */
  private accept(from: NodeId, event: TopicEvent, id: number): void {
    const advert = this.io.advert(event.topic);
    if (advert === undefined) {
      noteDropped(this.context, 'unknown-topic', { topic: event.topic, node: from });
      return;
    }
    // v1: events come straight from the publisher's node, whose identity the channel proved.
    if (from !== advert.publisher.node || !sameEngine(event.publisher, advert.publisher)) {
      noteDropped(this.context, 'unauthorized', { topic: event.topic, node: from });
      return;
    }
    if (this.options.verifyEventSignatures && !verifyEventSignature(event)) {
      noteDropped(this.context, 'bad-signature', { topic: event.topic, node: from });
      return;
    }
    const subscription = this.wanted.get(event.topic);
    if (subscription === undefined || subscription.publisherNode !== from) {
      noteDropped(this.context, 'not-subscribed', { topic: event.topic, node: from });
      return;
    }
    if (!this.tracker.accept(event)) {
      noteDropped(this.context, 'duplicate', { topic: event.topic, node: from });
      return;
    }
    this.context.counters.eventsDelivered += this.io.deliver({
      id,
      src: event.publisher,
      dst: { topic: event.topic },
      expiry: event.expiry,
      protocol: event.protocol,
      body: event.body,
    });
  }

  // --- waiting for a subscription ----------------------------------------------------------------

  whenSubscribed(topic: TopicId, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    const subscription = this.wanted.get(topic);
    if (subscription === undefined) return Promise.reject(new NotSubscribedError(topic));
    if (subscription.state === 'subscribed' || subscription.state === 'local') return Promise.resolve();
    const { signal, timeoutMs } = options;
    if (signal?.aborted) return Promise.reject(new AbortedError(signal.reason));
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        subscription.waiters.delete(waiter);
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        resolve: () => {
          done();
          resolve();
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      const onAbort = (): void => waiter.reject(new AbortedError(signal?.reason));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(
          () => waiter.reject(new RequestTimeoutError(`subscription to ${topic}`, timeoutMs)),
          timeoutMs,
        );
        timer.unref();
      }
      subscription.waiters.add(waiter);
    });
  }

  stop(): void {
    this.stopped = true;
    for (const subscription of this.wanted.values()) {
      subscription.generation++;
      this.clearRetry(subscription);
      this.settle(subscription, new AbortedError('pubsub engine stopped'));
    }
    this.wanted.clear();
    this.acks.clear();
    this.hold.clear();
  }

  // --- internals ------------------------------------------------------------------------------

  private follow(subscription: RemoteSubscription, advert: TopicAdvert): void {
    subscription.publisherNode = advert.publisher.node;
    if (advert.publisher.node === this.context.node) {
      subscription.state = 'local';
      this.settle(subscription);
      return;
    }
    this.subscribeRemote(subscription);
  }

  private subscribeRemote(subscription: RemoteSubscription): void {
    const node = subscription.publisherNode;
    if (node === undefined || this.stopped) return;
    this.clearRetry(subscription);
    const generation = ++subscription.generation;
    const resubscribe = subscription.subscribedBefore;
    subscription.state = 'subscribing';
    this.context.counters.subscribeRequests++;
    if (resubscribe) this.context.counters.resubscribes++;
    const { topic } = subscription;
    const request = subscribeRequestToWire({ topic, wantsSignatures: this.options.verifyEventSignatures });
    this.io.request(node, PubSubProtocol.Subscribe, request, this.options.requestTimeoutMs).then(
      (reply) => {
        if (this.wanted.get(topic) !== subscription || subscription.generation !== generation) return;
        let answer: ReturnType<typeof readSubscribeReply>;
        try {
          answer = readSubscribeReply(reply.body);
        } catch (error) {
          this.failed(subscription, node, error as Error);
          return;
        }
        if (answer.status !== SubscribeStatus.Ok) {
          this.failed(
            subscription,
            node,
            new SubscriptionDeniedError(topic, SUBSCRIBE_STATUS_TEXT[answer.status]),
          );
          return;
        }
        const advert = this.io.advert(topic);
        if (advert !== undefined) {
          this.tracker.baseline(topic, advert.publisher, answer.epoch, answer.seq, answer.lastSent);
        }
        this.acks.subscribed(node, answer.epoch, answer.window);
        subscription.state = 'subscribed';
        subscription.subscribedBefore = true;
        subscription.retryDelayMs = this.options.retryMinMs;
        this.context.events.emit({ type: 'topic:subscribed', topic, publisherNode: node, resubscribe });
        this.settle(subscription);
      },
      (error: Error) => {
        if (this.wanted.get(topic) !== subscription || subscription.generation !== generation) return;
        this.failed(subscription, node, error);
      },
    );
  }

  private failed(subscription: RemoteSubscription, node: NodeId, error: Error): void {
    const { topic } = subscription;
    subscription.state = 'failed';
    this.context.counters.subscribeFailures++;
    this.context.logger.warn({ topic, node, err: error }, 'subscription failed; will retry');
    this.context.events.emit({ type: 'topic:subscribe-failed', topic, publisherNode: node, error });
    if (error instanceof SubscriptionDeniedError) this.settle(subscription, error);
    this.scheduleRetry(subscription);
  }

  /** Tries again later, with exponential backoff, unless something else re-subscribes first. */
  private scheduleRetry(subscription: RemoteSubscription): void {
    this.clearRetry(subscription);
    const delay = subscription.retryDelayMs;
    subscription.retryDelayMs = Math.min(delay * 2, this.options.retryMaxMs);
    subscription.retryTimer = setTimeout(() => {
      subscription.retryTimer = undefined;
      const waiting = subscription.state === 'failed' || subscription.state === 'disconnected';
      if (this.wanted.get(subscription.topic) === subscription && waiting) this.subscribeRemote(subscription);
    }, delay);
    subscription.retryTimer.unref();
  }

  /** Ends the remote side of a subscription (its last local subscriber left, or the publisher moved). */
  private leave(subscription: RemoteSubscription): void {
    subscription.generation++;
    this.clearRetry(subscription);
    const node = subscription.publisherNode;
    const wasRemote =
      subscription.state === 'subscribed' ||
      subscription.state === 'subscribing' ||
      subscription.state === 'disconnected';
    if (node === undefined || !wasRemote) return;
    const { topic } = subscription;
    this.io
      .request(node, PubSubProtocol.Unsubscribe, [topic], this.options.requestTimeoutMs)
      .catch((error) => {
        // The publisher forgets us anyway when the connection goes; nothing else to do.
        this.context.logger.debug({ topic, node, err: error }, 'unsubscribe not acknowledged');
      });
    this.context.events.emit({ type: 'topic:unsubscribed', topic, publisherNode: node });
  }

  private settle(subscription: RemoteSubscription, error?: Error): void {
    for (const waiter of [...subscription.waiters]) {
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
  }

  private clearRetry(subscription: RemoteSubscription): void {
    if (subscription.retryTimer !== undefined) clearTimeout(subscription.retryTimer);
    subscription.retryTimer = undefined;
  }
}
