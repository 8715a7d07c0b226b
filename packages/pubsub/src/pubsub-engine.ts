import {
  type EngineClient,
  type EngineMessage,
  InvalidSignatureError,
  KeyPair,
  type Logger,
  type NodeId,
  NotStartedError,
  noopLogger,
  SchemaError,
  type Service,
  type ServiceRouter,
  type Startable,
  sameEngine,
  signTopicAdvert,
  type TopicAdvert,
  type TopicDelegate,
  type TopicId,
  topicAdvertFromWire,
  topicAdvertToWire,
} from '@netmachine/core';
import type { PubSubContext } from './context.js';
import { newPubSubCounters, type PubSubCounters } from './counters.js';
import { NotTopicOwnerError } from './errors.js';
import { type PubSubEventListener, PubSubEvents } from './events.js';
import {
  type CreatedTopic,
  type CreateTopicOptions,
  nextEpoch,
  type PeerConnectivity,
  PUBSUB_DEFAULTS,
  type PubSubEngineOptions,
} from './options.js';
import {
  deletionToWire,
  MAX_EVENTS_PER_MESSAGE,
  PUBSUB_ENGINE,
  PubSubProtocol,
  readAck,
  readDeletion,
  readSubscribeRequest,
  readTopicRequest,
  type SubscribeReply,
  SubscribeStatus,
  signDeletion,
  subscribeReplyToWire,
  type TopicDeletion,
  verifyDeletion,
} from './protocol.js';
import { PublisherSide } from './publisher.js';
import { type RemoteState, SubscriberSide } from './subscriber.js';
import { DEFAULT_MAX_TOPICS, TopicRegistry } from './topic-registry.js';

/**
 * The P2P PubSub engine of one node (v1: one authorized publisher per topic, subscribers directly
 * connected to its node). It runs as the engine `pubsub` and is the router's TopicDelegate: the
 * router does local multicast; this engine carries events to and from other nodes.
 */
export class PubSubEngine implements Startable, Service, TopicDelegate, PeerConnectivity {
  readonly node: NodeId;
  readonly #counters: PubSubCounters = newPubSubCounters();
  readonly epoch = nextEpoch();
  private readonly router: ServiceRouter;
  private unwirePeers: (() => void) | undefined;
  private readonly logger: Logger;
  /** What the engine reports (`topic:gap`, `message:dropped`, `subscriber:added`, …). */
  readonly events = new PubSubEvents();
  private readonly registry: TopicRegistry;
  private readonly publisher: PublisherSide;
  private readonly subscriber: SubscriberSide;
  private readonly connected = new Set<NodeId>();
  private readonly options: PubSubEngineOptions;
  private client: EngineClient | undefined;
  private stopped = false;

  constructor(options: PubSubEngineOptions) {
    if (options.nodeKey.id !== options.router.node) {
      throw new SchemaError('nodeKey', 'must be the key of the router’s node');
    }
    this.options = options;
    this.router = options.router;
    this.node = options.router.node;
    this.logger = (options.logger ?? noopLogger).child({ component: 'pubsub' });
    this.registry = new TopicRegistry(options.maxTopics ?? DEFAULT_MAX_TOPICS);
    const context: PubSubContext = {
      node: this.node,
      logger: this.logger,
      counters: this.#counters,
      events: this.events,
      send: (node, protocol, body, expiry) => {
        this.client?.send({ node, name: PUBSUB_ENGINE }, body, { protocol, expiry });
      },
    };
    this.publisher = new PublisherSide(context, {
      window: options.window ?? PUBSUB_DEFAULTS.window,
      queueSize: options.queueSize ?? PUBSUB_DEFAULTS.queueSize,
      maxBatch: Math.min(options.maxBatch ?? PUBSUB_DEFAULTS.maxBatch, MAX_EVENTS_PER_MESSAGE),
      maxBatchBytes: PUBSUB_DEFAULTS.maxBatchBytes,
      maxSubscriberNodes: options.maxSubscriberNodes ?? 4096,
      signEvents: options.signEvents,
      epoch: this.epoch,
      nodeKey: options.nodeKey,
    });
    this.subscriber = new SubscriberSide(
      context,
      {
        advert: (topic) => this.registry.get(topic),
        request: (node, protocol, body, timeoutMs) => {
          if (this.client === undefined) return Promise.reject(new NotStartedError('pubsub engine'));
          return this.client.request({ node, name: PUBSUB_ENGINE }, body, { protocol, timeoutMs });
        },
        deliver: (event) => this.router.deliverTopicEvent(event),
        room: (topic) => this.router.topicRoom?.(topic) ?? Number.POSITIVE_INFINITY,
      },
      {
        requestTimeoutMs: options.requestTimeoutMs ?? 5000,
        retryMinMs: options.retryMinMs ?? 500,
        retryMaxMs: options.retryMaxMs ?? 30_000,
        ackEvery: options.ackEvery ?? PUBSUB_DEFAULTS.ackEvery,
        ackDelayMs: options.ackDelayMs ?? PUBSUB_DEFAULTS.ackDelayMs,
        verifyEventSignatures: options.verifyEventSignatures ?? false,
      },
    );
  }

  // --- lifecycle ------------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.stopped) throw new NotStartedError('pubsub engine (stopped engines do not restart)');
    if (this.client !== undefined) return;
    this.client = this.router.client(PUBSUB_ENGINE, (message) => this.handle(message), {
      mailboxSize: this.options.mailboxSize ?? 4096,
    });
    this.router.setTopicDelegate(this);
    const peers = this.options.peers;
    if (peers !== undefined) {
      const offConnected = peers.events.on('peer:connected', (e) => this.onPeerConnected(e.node));
      const offDisconnected = peers.events.on('peer:disconnected', (e) => this.onPeerDisconnected(e.node));
      this.unwirePeers = () => {
        offConnected();
        offDisconnected();
      };
      for (const node of peers.connectedNodes()) this.onPeerConnected(node);
    }
    // Local engines may have subscribed before we were the delegate.
    for (const advert of this.registry.all()) this.syncLocalSubscribers(advert.id);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unwirePeers?.();
    this.subscriber.stop();
    this.publisher.clear();
    this.router.setTopicDelegate(undefined);
    const client = this.client;
    this.client = undefined;
    await client?.stop();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** A snapshot of the engine's counters. */
  counters(): PubSubCounters {
    return { ...this.#counters, dropped: { ...this.#counters.dropped } };
  }

  onEvent(listener: PubSubEventListener): () => void {
    return this.events.on('*', listener);
  }

  // --- topics -----------------------------------------------------------------------------------

  /** Creates (or, with a known key, re-issues) a topic: signs its advert and offers it to connected peers. */
  createTopic(options: CreateTopicOptions): CreatedTopic {
    const topicKey = options.topicKey ?? KeyPair.generate();
    const topic = topicKey.topicId;
    const publisher =
      typeof options.publisher === 'string'
        ? { node: this.node, name: options.publisher }
        : options.publisher;
    const known = this.registry.get(topic);
    const advert = signTopicAdvert(topicKey, {
      publisher,
      tags: [...(options.tags ?? [])],
      // Time-based, so a creator that restarted without its old advert still issues a newer one.
      version: Math.max(known?.version ?? 0, this.registry.retiredVersion(topic) ?? 0, Date.now() - 1) + 1,
      created: Date.now(),
    });
    this.registry.rememberKey(topicKey);
    this.acceptAdvert(advert, undefined);
    for (const node of this.connected) this.advertise(node, [topic]);
    return { topic, advert, topicKey };
  }

  /** Deletes a topic this node created; subscriber nodes and the publisher node are told. */
  deleteTopic(topic: TopicId): void {
    const key = this.registry.keyOf(topic);
    const advert = this.registry.get(topic);
    if (key === undefined || advert === undefined) throw new NotTopicOwnerError(topic);
    const deletion = signDeletion(key, advert.version);
    const notify = new Set(this.applyDeletion(deletion));
    if (advert.publisher.node !== this.node) notify.add(advert.publisher.node);
    for (const node of this.connected) notify.add(node);
    for (const node of notify) this.sendControl(node, PubSubProtocol.Delete, deletionToWire(deletion));
  }

  /**
   * Verifies and stores a TopicAdvert. Returns true when stored, false when not newer than the
   * known one; throws InvalidSignatureError for a forged advert (counted as rejected).
   */
  addTopicAdvert(advert: TopicAdvert, from?: NodeId): boolean {
    return this.acceptAdvert(advert, from);
  }

  topicAdvert(topic: TopicId): TopicAdvert | undefined {
    return this.registry.get(topic);
  }

  topicAdverts(): TopicAdvert[] {
    return this.registry.all();
  }

  /** Sends the adverts of `topics` (default: every topic this node created) to `node`. */
  advertise(node: NodeId, topics?: readonly TopicId[]): number {
    const adverts =
      topics === undefined
        ? this.registry.owned()
        : topics.map((t) => this.registry.get(t)).filter((a): a is TopicAdvert => a !== undefined);
    for (const advert of adverts) this.sendControl(node, PubSubProtocol.Advert, topicAdvertToWire(advert));
    return adverts.length;
  }

  // --- subscriptions -----------------------------------------------------------------------------

  /** Resolves once the publisher node has recorded this node for `topic` (at once for a local publisher). */
  whenSubscribed(topic: TopicId, options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<void> {
    return this.subscriber.whenSubscribed(topic, options);
  }

  subscriptionState(topic: TopicId): RemoteState | undefined {
    return this.subscriber.state(topic);
  }

  /** The last sequence number accounted for on a subscribed topic. */
  lastReceivedSeq(topic: TopicId): number | undefined {
    return this.subscriber.lastSeq(topic);
  }

  /** Publisher side: the sequence number of the last event published on `topic` from this node. */
  lastPublishedSeq(topic: TopicId): number | undefined {
    return this.publisher.lastSeq(topic);
  }

  /** Publisher side: the nodes subscribed to `topic` (one entry per node). */
  subscriberNodes(topic: TopicId): NodeId[] {
    return this.publisher.subscriberNodes(topic);
  }

  /** Publisher side: events unacknowledged by and queued for a subscriber node. */
  subscriberBacklog(node: NodeId): { inFlight: number; queued: number } | undefined {
    const link = this.publisher.link(node);
    return link === undefined ? undefined : { inFlight: link.inFlight, queued: link.queued };
  }

  // --- TopicDelegate (called by the router) ------------------------------------------------------

  published(event: EngineMessage): void {
    this.publisher.published(event);
  }

  subscriptionsChanged(topic: TopicId, localSubscribers: number): void {
    this.subscriber.localSubscribersChanged(topic, localSubscribers);
  }

  knows(topic: TopicId): boolean {
    return this.registry.get(topic) !== undefined;
  }

  // --- PeerConnectivity (wired to the Transport engine's events by the app) ----------------------

  onPeerConnected(node: NodeId): void {
    if (this.stopped || node === this.node) return;
    this.connected.add(node);
    if (this.options.advertiseOnConnect ?? true) this.advertise(node);
    this.subscriber.peerConnected(node);
  }

  onPeerDisconnected(node: NodeId): void {
    if (this.stopped) return;
    this.connected.delete(node);
    this.publisher.peerDisconnected(node);
    this.subscriber.peerDisconnected(node);
  }

  // --- messages from other pubsub engines ----------------------------------------------------

  private handle(message: EngineMessage): void {
    const from = message.src.node;
    try {
      switch (message.protocol) {
        case PubSubProtocol.Event:
          this.subscriber.handleEvent(message);
          return;
        case PubSubProtocol.Events:
          this.subscriber.handleEvents(message);
          return;
        case PubSubProtocol.Ack:
          this.publisher.ack(from, readAck(message.body));
          return;
        case PubSubProtocol.Subscribe:
          this.handleSubscribe(message);
          return;
        case PubSubProtocol.Unsubscribe: {
          const topic = readTopicRequest(message.body, 'unsubscribe');
          const status = this.publisher.handleUnsubscribe(from, topic);
          this.client?.reply(message, [status], { protocol: PubSubProtocol.Unsubscribe });
          return;
        }
        case PubSubProtocol.Advert:
          this.handleAdvert(message);
          return;
        case PubSubProtocol.Delete:
          this.handleDeletion(message);
          return;
        default:
          throw new SchemaError('protocol', `unknown pubsub protocol ${message.protocol.slice(0, 128)}`);
      }
    } catch (error) {
      this.#counters.dropped.malformed++;
      this.logger.debug({ node: from, protocol: message.protocol, err: error }, 'malformed pubsub message');
      if (this.events.active) {
        this.events.emit({ type: 'message:dropped', reason: 'malformed', node: from, error: error as Error });
      }
    }
  }

  private handleSubscribe(message: EngineMessage): void {
    const { topic, wantsSignatures } = readSubscribeRequest(message.body);
    let reply: SubscribeReply;
    if (message.src.name !== PUBSUB_ENGINE) {
      // Events go to the node's pubsub engine; anything else asking is confused or probing.
      reply = { status: SubscribeStatus.BadRequest, epoch: 0, seq: 0, lastSent: undefined, window: 0 };
    } else {
      reply = this.publisher.handleSubscribe(message.src.node, topic, wantsSignatures);
      if (reply.status === SubscribeStatus.UnknownTopic && this.registry.get(topic) !== undefined) {
        reply = { ...reply, status: SubscribeStatus.NotPublisher };
      }
    }
    this.client?.reply(message, subscribeReplyToWire(reply), { protocol: PubSubProtocol.Subscribe });
  }

  private handleAdvert(message: EngineMessage): void {
    const advert = topicAdvertFromWire(message.body);
    try {
      this.acceptAdvert(advert, message.src.node);
    } catch (error) {
      this.logger.warn({ node: message.src.node, err: error }, 'topic advert refused');
    }
  }

  private handleDeletion(message: EngineMessage): void {
    const deletion = readDeletion(message.body);
    if (!verifyDeletion(deletion)) {
      this.#counters.advertsRejected++;
      this.events.emit({
        type: 'advert:rejected',
        error: new InvalidSignatureError(`deletion of topic ${deletion.topic}`),
        from: message.src.node,
      });
      return;
    }
    const known = this.registry.get(deletion.topic);
    if (known === undefined || deletion.version < known.version) return;
    const wasPublisher = this.publisher.hasTopic(deletion.topic);
    const subscribers = this.applyDeletion(deletion);
    // The topic key signed it, so passing it on to our subscribers is safe.
    if (wasPublisher)
      for (const node of subscribers) this.sendControl(node, PubSubProtocol.Delete, message.body);
  }

  // --- internals ----------------------------------------------------------------------------

  private acceptAdvert(advert: TopicAdvert, from: NodeId | undefined): boolean {
    let outcome: ReturnType<TopicRegistry['offer']>;
    try {
      outcome = this.registry.offer(advert, this.options.advertVerify);
    } catch (error) {
      this.#counters.advertsRejected++;
      this.events.emit({ type: 'advert:rejected', error: error as Error, from });
      throw error;
    }
    if (!outcome.stored) {
      this.#counters.advertsStale++;
      return false;
    }
    const topic = advert.id;
    const local = advert.publisher.node === this.node;
    if (local) this.publisher.addTopic(advert);
    else if (outcome.previous?.publisher.node === this.node) this.publisher.removeTopic(topic);
    // The router enforces the authorized publisher for local engines, remote publisher or not.
    const current = this.router.topicPublisher(topic);
    if (current !== undefined && !sameEngine(current, advert.publisher)) this.router.deleteTopic(topic);
    this.router.createTopic(topic, advert.publisher);
    this.#counters.advertsAdded++;
    this.events.emit({ type: 'advert:added', advert, from });
    this.syncLocalSubscribers(topic);
    this.subscriber.advertChanged(topic, advert);
    return true;
  }

  /** Removes a topic locally; returns the subscriber nodes this node was publishing it to. */
  private applyDeletion(deletion: TopicDeletion): NodeId[] {
    const topic = deletion.topic;
    const subscribers = this.publisher.removeTopic(topic);
    this.registry.delete(topic, deletion.version);
    this.router.deleteTopic(topic);
    this.subscriber.advertChanged(topic, undefined);
    this.events.emit({ type: 'topic:deleted', topic });
    return subscribers;
  }

  private syncLocalSubscribers(topic: TopicId): void {
    if (this.client === undefined) return;
    const count = this.router.localSubscriberCount(topic);
    if (count > 0) this.subscriber.localSubscribersChanged(topic, count);
  }

  private sendControl(node: NodeId, protocol: string, body: unknown): void {
    if (node === this.node) return;
    this.client?.send({ node, name: PUBSUB_ENGINE }, body, { protocol });
  }
}
