import {
  AbortedError,
  AlreadyExistsError,
  type AnycastAddress,
  assertEngineName,
  type Destination,
  type DomainDirectory,
  EncodedBody,
  type EngineAddress,
  type EngineHandler,
  type EngineMessage,
  type EngineOptions,
  type EngineRef,
  formatEngineAddress,
  isAnycastAddress,
  isTopicAddress,
  type Logger,
  MailboxFullError,
  type MessageSink,
  type NodeId,
  type NodeSender,
  NotStartedError,
  noopLogger,
  parseEngineAddress,
  type RequestOptions,
  SchemaError,
  type SendOptions,
  type ServiceRouter,
  type Startable,
  sameEngine,
  type TopicId,
  UnauthorizedPublisherError,
  UnknownDestinationError,
} from '@netmachine/core';
import { type AnycastCounters, AnycastRouting } from './anycast.js';
import { type DropReason, newCounters, type RouterCounters } from './counters.js';
import { Admission, type EngineClient, LocalEngine } from './engine.js';
import { EventHub, type RouterEventListener } from './events.js';
import { DEFAULT_MAX_PENDING_REQUESTS, PendingRequests } from './pending-requests.js';
import { type TopicDelegate, TopicTable } from './topic-table.js';

/** The protocol name of a message whose sender named none. */
export const DEFAULT_PROTOCOL = 'msg@1';
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_ENGINES = 10_000;
/** Engine runs started from microtasks before the router lets I/O in with a macrotask. */
const MICROTASK_BUDGET = 1024;

export interface RouterOptions {
  /** This node's identity. */
  node: NodeId;
  logger?: Logger;
  requestTimeoutMs?: number;
  maxPendingRequests?: number;
  maxEngines?: number;
}

export interface RouterStatus {
  readonly engines: number;
  readonly pendingRequests: number;
  /** Messages waiting in each engine's mailbox. */
  readonly queueDepths: Record<string, number>;
  readonly topics: number;
}

/**
 * The Router: routes every message leaving or entering a local engine. Local destinations are a
 * direct call into the engine's mailbox (no serialisation, no signature); other nodes go through
 * the NodeSender (the Transport engine); topics fan out to local subscribers and, through the
 * TopicDelegate (the pubsub engine), to other nodes.
 */
export class Router implements MessageSink, ServiceRouter, Startable {
  readonly node: NodeId;
  /** The live counters the router and its engines increment; read them with `counters()`. */
  readonly tally: RouterCounters = newCounters();
  readonly logger: Logger;
  private readonly engines = new Map<string, LocalEngine>();
  private readonly topics = new TopicTable();
  private readonly pending: PendingRequests;
  /** What the router reports (`message:dropped`, `engine:error`, `mailbox:full`, …). */
  readonly events = new EventHub();
  private readonly requestTimeoutMs: number;
  private readonly maxEngines: number;
  private sender: NodeSender | undefined;
  private delegate: TopicDelegate | undefined;
  private readonly anycast = new AnycastRouting();
  private nextId = 1;
  private stopped = false;
  private microtaskBudget = MICROTASK_BUDGET;
  private budgetResetScheduled = false;
  /** Set by `route` when it parked a message from another node (read right after, by `deliver`). */
  private parkedByRoute = false;
  /** Reads from connections under way (`readStarted` minus `readEnded`). */
  private readDepth = 0;
  /** Engines given messages during a read: they run when it ends. */
  private readRuns: LocalEngine[] = [];

  constructor(options: RouterOptions) {
    this.node = options.node;
    this.logger = (options.logger ?? noopLogger).child({ component: 'router' });
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.maxEngines = options.maxEngines ?? DEFAULT_MAX_ENGINES;
    this.pending = new PendingRequests(options.maxPendingRequests ?? DEFAULT_MAX_PENDING_REQUESTS);
    this.pending.onTimeout = () => {
      this.tally.requestsTimedOut++;
    };
  }

  // --- wiring and lifecycle -------------------------------------------------------------

  /** Connects the router to other nodes (the Transport engine). */
  setNodeSender(sender: NodeSender | undefined): void {
    this.sender = sender;
  }

  /** Hands remote topic traffic to the pubsub engine. */
  setTopicDelegate(delegate: TopicDelegate | undefined): void {
    this.delegate = delegate;
  }

  /** Resolves anycast destinations `{ domain, name }` to members (the domain service). */
  setDomainDirectory(directory: DomainDirectory | undefined): void {
    this.anycast.directory = directory;
  }

  /** Anycast messages sent, members skipped for the next one, messages no member served. */
  get anycastCounters(): Readonly<AnycastCounters> {
    return this.anycast.counters;
  }

  /** Observes drops, handler errors, engine and subscription changes. Returns an unsubscribe function. */
  /** A snapshot of the router's counters. */
  counters(): RouterCounters {
    return { ...this.tally, dropped: { ...this.tally.dropped } };
  }

  onEvent(listener: RouterEventListener): () => void {
    return this.events.on('*', listener);
  }

  async start(): Promise<void> {
    if (this.stopped) throw new NotStartedError('router (stopped routers do not restart)');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all([...this.engines.values()].map((engine) => this.stopEngine(engine)));
    this.pending.failAll(new AbortedError('router stopped'));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  status(): RouterStatus {
    const queueDepths: Record<string, number> = {};
    for (const [name, engine] of this.engines) queueDepths[name] = engine.queued;
    return {
      engines: this.engines.size,
      pendingRequests: this.pending.size,
      queueDepths,
      topics: this.topics.topicIds().length,
    };
  }

  // --- engines ------------------------------------------------------------------------------

  spawn(name: string, handler: EngineHandler, options: EngineOptions = {}): EngineRef {
    return this.spawnEngine(name, handler, options);
  }

  /**
   * An engine driven from outside (a CLI, a test, an app): it sends and requests like any engine;
   * messages that are not replies go to `onMessage`.
   */
  client(name: string, onMessage?: EngineHandler, options: EngineOptions = {}): EngineClient {
    return this.spawnEngine(name, onMessage ?? (() => {}), options);
  }

  engine(name: string): EngineRef | undefined {
    return this.engines.get(name);
  }

  private spawnEngine(name: string, handler: EngineHandler, options: EngineOptions): LocalEngine {
    if (this.stopped) throw new NotStartedError('router');
    assertEngineName(name);
    if (this.engines.has(name)) throw new AlreadyExistsError(`engine ${name}`);
    if (this.engines.size >= this.maxEngines) throw new AlreadyExistsError(`${this.maxEngines} engines`);
    const engine = new LocalEngine(this, name, handler, options, this.logger.child({ engine: name }));
    this.engines.set(name, engine);
    if (this.events.active) this.events.emit({ type: 'engine:started', engine: engine.self });
    return engine;
  }

  /** @internal Stops an engine: its queued messages are dropped and counted, its requests rejected. */
  async stopEngine(engine: LocalEngine, error?: unknown): Promise<void> {
    if (engine.isStopped || this.engines.get(engine.name) !== engine) return;
    this.engines.delete(engine.name);
    for (const message of engine.close()) this.noteDropped('engine-stopped', message);
    for (const topic of this.topics.subscriptionsOf(engine)) this.unsubscribe(engine, topic);
    this.pending.failRequestsOf(engine, () => new AbortedError(`engine ${engine.name} stopped`));
    this.events.emit({ type: 'engine:stopped', engine: engine.self, error });
  }

  /** @internal Runs an engine's mailbox soon, letting I/O in regularly. */
  scheduleRun(engine: LocalEngine): void {
    if (this.readDepth > 0) {
      this.readRuns.push(engine);
      return;
    }
    if (this.microtaskBudget > 0) {
      this.microtaskBudget--;
      queueMicrotask(engine.run);
      return;
    }
    setImmediate(engine.run);
    if (!this.budgetResetScheduled) {
      this.budgetResetScheduled = true;
      setImmediate(() => {
        this.microtaskBudget = MICROTASK_BUDGET;
        this.budgetResetScheduled = false;
      });
    }
  }

  // --- sending --------------------------------------------------------------------------------

  /** @internal */
  sendFrom(
    engine: LocalEngine,
    dst: Destination | AnycastAddress | string,
    body: unknown,
    options?: SendOptions,
  ): void {
    if (isAnycastAddress(dst)) {
      const member = this.anycast.firstCandidate(dst, (node) => this.canReach(node));
      if (member instanceof Error) {
        this.tally.dropped['unknown-destination']++;
        throw member;
      }
      this.route(this.message(engine.self, member, body, options, undefined), engine);
      return;
    }
    const target = this.destination(dst);
    if (isTopicAddress(target)) {
      this.publishFrom(engine, target.topic, body, options);
      return;
    }
    this.route(this.message(engine.self, target, body, options, undefined), engine);
  }

  /** @internal */
  requestFrom<R>(
    engine: LocalEngine,
    dst: Destination | AnycastAddress | string,
    body: unknown,
    options: RequestOptions = {},
  ): Promise<EngineMessage<R>> {
    if (isAnycastAddress(dst)) {
      return this.anycast.request<R>(dst, options, this.requestTimeoutMs, (member, attemptOptions) =>
        this.requestFrom<R>(engine, member, body, attemptOptions),
      );
    }
    let target: Destination;
    try {
      target = this.destination(dst);
    } catch (error) {
      return Promise.reject(error);
    }
    if (isTopicAddress(target)) {
      return Promise.reject(new SchemaError('request.dst', 'a request goes to one engine, not a topic'));
    }
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
    // A request outliving its timeout is worthless: it expires with it unless told otherwise.
    const message = this.message(engine.self, target, body, options, undefined, Date.now() + timeoutMs);
    const reply = this.pending.add(message.id, engine, target, timeoutMs, options.signal);
    const error = this.route(message, engine);
    if (error !== undefined) this.pending.fail(message.id, error);
    return reply as Promise<EngineMessage<R>>;
  }

  /** @internal */
  replyFrom(engine: LocalEngine, to: EngineMessage, body: unknown, options?: SendOptions): void {
    this.route(this.message(engine.self, to.src, body, options, to.id), engine);
  }

  /** @internal Local multicast, then the delegate for other nodes. Throws for an unauthorized publisher. */
  publishFrom(engine: LocalEngine, topic: TopicId, body: unknown, options?: SendOptions): void {
    const entry = this.topics.get(topic);
    const event = this.message(engine.self, { topic }, body, options, undefined);
    if (entry?.publisher !== undefined) {
      if (!sameEngine(entry.publisher, engine.self)) {
        this.noteDropped('unauthorized-publisher', event);
        throw new UnauthorizedPublisherError(topic, formatEngineAddress(engine.self));
      }
    } else if (!this.delegate?.knows(topic)) {
      this.noteDropped('unknown-destination', event);
      throw new UnknownDestinationError(`topic ${topic}`);
    }
    if (entry !== undefined) this.fanOut(entry.subscribers, event);
    this.delegate?.published(event);
  }

  // --- topics -------------------------------------------------------------------------------------

  /** Creates a topic on this node with its one authorized publisher. */
  createTopic(topic: TopicId, publisher: EngineAddress): void {
    const entry = this.topics.getOrCreate(topic);
    if (entry.publisher !== undefined && !sameEngine(entry.publisher, publisher)) {
      throw new AlreadyExistsError(`topic ${topic}`);
    }
    entry.publisher = publisher;
  }

  deleteTopic(topic: TopicId): boolean {
    const entry = this.topics.get(topic);
    if (entry === undefined) return false;
    entry.publisher = undefined;
    if (entry.subscribers.length === 0) this.topics.delete(topic);
    return true;
  }

  topicPublisher(topic: TopicId): EngineAddress | undefined {
    return this.topics.get(topic)?.publisher;
  }

  localSubscriberCount(topic: TopicId): number {
    return this.topics.get(topic)?.subscribers.length ?? 0;
  }

  /** @internal */
  subscribe(engine: LocalEngine, topic: TopicId): void {
    const count = this.topics.subscribe(topic, engine);
    if (count < 0) return;
    this.events.emit({ type: 'topic:subscribed', topic, engine: engine.self, localSubscribers: count });
    this.delegate?.subscriptionsChanged(topic, count);
  }

  /** @internal */
  unsubscribe(engine: LocalEngine, topic: TopicId): void {
    const count = this.topics.unsubscribe(topic, engine);
    if (count < 0) return;
    this.events.emit({ type: 'topic:unsubscribed', topic, engine: engine.self, localSubscribers: count });
    this.delegate?.subscriptionsChanged(topic, count);
  }

  /**
   * Delivers a topic event that arrived from another node (the pubsub engine has authenticated it)
   * to the local subscribers. Returns how many received it.
   */
  deliverTopicEvent(event: EngineMessage): number {
    if (!isTopicAddress(event.dst)) throw new SchemaError('event.dst', 'expected a topic');
    const entry = this.topics.get(event.dst.topic);
    if (entry === undefined || entry.subscribers.length === 0) return 0;
    return this.fanOut(entry.subscribers, event);
  }

  /** The fewest free mailbox places among `topic`'s local subscribers (Infinity when it has none). */
  topicRoom(topic: TopicId): number {
    const entry = this.topics.get(topic);
    let room = Number.POSITIVE_INFINITY;
    if (entry === undefined) return room;
    for (const subscriber of entry.subscribers) {
      if (subscriber.isStopped) continue;
      room = Math.min(room, subscriber.capacity - subscriber.queued);
    }
    return Math.max(0, room);
  }

  private fanOut(subscribers: readonly LocalEngine[], event: EngineMessage): number {
    let delivered = 0;
    for (const subscriber of subscribers) {
      const admission = subscriber.admit(event, undefined);
      if (admission === Admission.Queued || admission === Admission.Parked) {
        delivered++;
        this.tally.topicDeliveries++;
      } else {
        this.noteDropped(admission === Admission.Stopped ? 'engine-stopped' : 'mailbox-full', event);
      }
    }
    return delivered;
  }

  // --- MessageSink: from the Transport engine -------------------------------------------------

  /**
   * Returns false when the target engine is full and the message was parked: the transport stops
   * reading from that peer until `onRoom` is called, so a fast sender is slowed, not dropped.
   */
  deliver(message: EngineMessage, onRoom?: () => void): boolean {
    this.tally.receivedRemote++;
    if (isTopicAddress(message.dst)) {
      this.deliverTopicEvent(message);
      return true;
    }
    // Re-entrant: a runOnArrival engine handles its message inside this call and may deliver others
    // (a relay's destination hands on what it opened). Their parking is theirs, not this message's:
    // a false here pauses the link until an `onRoom` that this message never gets.
    const outer = this.parkedByRoute;
    this.parkedByRoute = false;
    this.route(message, undefined, onRoom);
    const parked = this.parkedByRoute;
    this.parkedByRoute = outer;
    return !parked;
  }

  readStarted(): void {
    this.readDepth++;
  }

  /**
   * The read's messages are all in their mailboxes: their engines run now, inside the read's own
   * callback, so a reply is written before the stream's follow-up work (a microtask would run after
   * it) — and a read of many messages still runs each engine once over all of its own.
   */
  readEnded(): void {
    if (--this.readDepth > 0) return;
    const runs = this.readRuns;
    if (runs.length === 0) return;
    this.readRuns = [];
    for (const engine of runs) {
      try {
        engine.run();
      } catch (error) {
        // Handler errors are caught by the run itself; anything else is the router's own fault and
        // must not reach the transport, which would take it for bad input.
        this.logger.error({ err: error, engine: engine.name }, 'engine run failed');
      }
    }
  }

  undeliverable(message: EngineMessage, error: Error): void {
    this.noteDropped('undeliverable', message, error);
    this.pending.fail(message.id, error);
  }

  /**
   * The connection to `node` closed: a request sent before this was written to it or still waits in
   * its queue, and its reply, if any, would have come back on it. Such requests fail now with the
   * connection's error rather than at their timeout; a reply that still arrives later is an ordinary
   * message.
   */
  connectionLost(node: NodeId, error: Error): void {
    this.pending.failRequestsTo(node, error);
  }

  // --- routing ------------------------------------------------------------------------------

  /**
   * Routes a unicast message. Returns the error that makes it undeliverable right now (counted as
   * a drop), or undefined when it was queued locally or handed to the NodeSender.
   */
  private route(
    message: EngineMessage,
    from: LocalEngine | undefined,
    onRoom?: () => void,
  ): Error | undefined {
    const dst = message.dst as EngineAddress;
    if (dst.node !== this.node) {
      const sender = this.sender;
      if (!this.sendRemote(sender, message, dst.node)) {
        const error = new UnknownDestinationError(formatEngineAddress(dst));
        this.noteDropped('unknown-destination', message, error);
        return error;
      }
      this.tally.sentRemote++;
      return undefined;
    }
    // A body encoded for the wire reaches a local engine as the value it encodes.
    if (message.body instanceof EncodedBody) message = { ...message, body: message.body.value };
    if (message.replyTo !== undefined && this.pending.settle(message)) return undefined;
    const target = this.engines.get(dst.name);
    if (target === undefined) {
      const error = new UnknownDestinationError(formatEngineAddress(dst));
      this.noteDropped(message.replyTo === undefined ? 'unknown-destination' : 'late-reply', message, error);
      return error;
    }
    // Only `deliver` routes without a sending engine: the message came from another node.
    switch (target.admit(message, from, onRoom, from === undefined)) {
      case Admission.Queued:
        return undefined;
      case Admission.Parked:
        if (onRoom !== undefined) this.parkedByRoute = true;
        return undefined;
      case Admission.Stopped: {
        const error = new UnknownDestinationError(formatEngineAddress(dst));
        this.noteDropped('engine-stopped', message, error);
        return error;
      }
      default: {
        const error = new MailboxFullError(dst.name, target.capacity);
        this.noteDropped('mailbox-full', message, error);
        return error;
      }
    }
  }

  /** Hands `message` to the sender if it can reach `node`; false when it cannot. */
  private sendRemote(sender: NodeSender | undefined, message: EngineMessage, node: NodeId): boolean {
    if (sender === undefined) return false;
    if (sender.trySend !== undefined) return sender.trySend(message);
    if (!sender.canReach(node)) return false;
    sender.send(message);
    return true;
  }

  private canReach(node: NodeId): boolean {
    return node === this.node || (this.sender?.canReach(node) ?? false);
  }

  private destination(dst: Destination | string): Destination {
    if (typeof dst !== 'string') return dst;
    // A running engine's own address object: no parsing and no allocation on the hot path.
    const local = this.engines.get(dst);
    if (local !== undefined) return local.self;
    if (dst.includes('@')) return parseEngineAddress(dst);
    return { node: this.node, name: assertEngineName(dst) };
  }

  private message(
    src: EngineAddress,
    dst: Destination,
    body: unknown,
    options: SendOptions | undefined,
    replyTo: number | undefined,
    defaultExpiry?: number,
  ): EngineMessage {
    let expiry = defaultExpiry;
    if (options !== undefined) {
      if (options.expiry !== undefined) expiry = options.expiry;
      else if (options.ttlMs !== undefined) expiry = Date.now() + options.ttlMs;
    }
    return {
      id: this.nextId++,
      src,
      dst,
      replyTo,
      expiry,
      prefs: options?.prefs,
      protocol: options?.protocol ?? DEFAULT_PROTOCOL,
      body,
      sig: undefined,
    };
  }

  // --- accounting -----------------------------------------------------------------------------

  /** @internal */
  noteDropped(reason: DropReason, message: EngineMessage, error?: Error): void {
    this.tally.dropped[reason]++;
    if (this.events.active) this.events.emit({ type: 'message:dropped', reason, message, error });
  }

  /** @internal */
  noteEvicted(_engine: LocalEngine, evicted: EngineMessage): void {
    this.noteDropped('mailbox-evicted', evicted);
  }

  /** @internal */
  noteMailboxFull(engine: LocalEngine): void {
    if (this.events.active) {
      this.events.emit({
        type: 'mailbox:full',
        engine: engine.self,
        policy: engine.policy,
        queued: engine.queued,
      });
    }
  }

  /** @internal */
  noteHandlerError(engine: LocalEngine, error: unknown): void {
    this.tally.handlerErrors++;
    engine.logger.warn({ err: error }, 'engine handler failed');
    this.events.emit({ type: 'engine:error', engine: engine.self, error });
  }
}
