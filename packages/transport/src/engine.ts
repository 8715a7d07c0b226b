import {
  type Connection,
  ConnectionClosedError,
  type EngineAddress,
  type EngineMessage,
  InvalidAddressError,
  isTopicAddress,
  type Listener,
  type Logger,
  type MessageSink,
  type NodeId,
  type NodeSender,
  NotStartedError,
  noopLogger,
  PeerDeniedError,
  type RelayPath,
  type RelayRoute,
  SchemaError,
  type Startable,
  TRUST_BANNED,
  type Transport,
} from '@netmachine/core';
import { addressProtocol } from './address-order.js';
import type { ConnectionSession } from './connection-session.js';
import {
  newTransportCounters,
  type PeerTrafficCounters,
  type TransportCounters,
  type TransportCountersSnapshot,
  type TransportDropReason,
} from './counters.js';
import { type DialHost, dialLink } from './dial-attempt.js';
import type { ConnectOptions, TransportEngineOptions } from './engine-options.js';
import { countersSnapshot, peerTraffic } from './engine-status.js';
import { type TransportEvent, TransportEvents } from './events.js';
import { DEFAULT_TRANSPORT_LIMITS, type TransportLimits } from './limits.js';
import { LinkTable } from './link-table.js';
import type { NodeLink } from './node-link.js';
import type { SessionHooks } from './session-options.js';
import { SessionRegistry } from './session-registry.js';

/**
 * The Transport engine: the pool of connections to other nodes, keyed by NodeId. It dials nodes by
 * the addresses in their adverts, runs the handshake on every connection, keeps permanent links
 * up, closes idle ephemeral ones, queues messages for unreachable nodes until they expire, and
 * hands every authenticated inbound message to the sink (the Router).
 */
export class TransportEngine implements NodeSender, RelayPath, Startable {
  readonly node: NodeId;
  readonly events = new TransportEvents();
  readonly #o: TransportEngineOptions;
  readonly #limits: TransportLimits;
  readonly #logger: Logger;
  readonly #counters: TransportCounters = newTransportCounters();
  readonly #table: LinkTable;
  /** The table's links, read directly on the message path. */
  readonly #links: Map<NodeId, NodeLink>;
  readonly #sessions: SessionRegistry;
  readonly #transports = new Map<string, Transport>();
  #listeners: Listener[] = [];
  #sink: MessageSink | undefined;
  /** The sink told of each read under way (reads nest only if a handler reads synchronously). */
  readonly #readSinks: Array<MessageSink | undefined> = [];
  #relay: RelayRoute | undefined;
  #running = false;
  #starting: Promise<void> | undefined;
  readonly #dialHost: DialHost;

  constructor(options: TransportEngineOptions) {
    this.#o = options;
    this.node = options.keyPair.id;
    this.#limits = { ...DEFAULT_TRANSPORT_LIMITS, ...options.limits };
    this.#logger = (options.logger ?? noopLogger).child({ component: 'transport' });
    this.#sessions = new SessionRegistry({
      node: this.node,
      keyPair: options.keyPair,
      directory: options.directory,
      strict: options.strict ?? false,
      verifyThreads: options.verifyThreads,
      localAdvert: options.localAdvert,
      allowUnknownPeers: options.allowUnknownPeers !== false,
      limits: this.#limits,
      counters: this.#counters,
      logger: this.#logger,
      hooks: this.#sessionHooks,
    });
    this.#table = new LinkTable({
      local: this.node,
      limits: this.#limits,
      backoff: options.backoff ?? {},
      counters: this.#counters,
      logger: this.#logger,
      events: this.events,
      sessions: this.#sessions,
      running: () => this.#running,
      relay: () => this.#relay,
      sink: () => this.#sink,
      dial: (link, signal) => dialLink(this.#dialHost, link, signal),
      undeliverable: (message, error, reason) => this.#undeliverable(message, error, reason),
    });
    this.#links = this.#table.byNode;
    this.#dialHost = {
      node: this.node,
      keyPair: options.keyPair,
      strict: options.strict ?? false,
      directory: options.directory,
      transports: this.#transports,
      transportOrder: options.transportOrder,
      limits: this.#limits,
      logger: this.#logger,
      counters: this.#counters,
      advertHeld: this.#sessions.advertHeld,
      running: () => this.#running,
      localAdvert: () => this.#sessions.localAdvert(),
      undeliverable: (message, error, reason) => this.#undeliverable(message, error, reason),
      session: (connection) => this.#sessions.create(connection),
      opened: (session) => this.#table.opened(session),
    };
    // Made here rather than at start, so the schemes served are known (and checked) up front.
    const context = { keyPair: options.keyPair, logger: this.#logger };
    for (const factory of options.transports) {
      const transport = factory(context);
      if (!this.#transports.has(transport.protocol)) this.#transports.set(transport.protocol, transport);
    }
  }

  /** The URL schemes of the transports this engine was given (`tls`, `quic`, `memory`, …). */
  get protocols(): string[] {
    return [...this.#transports.keys()];
  }

  setSink(sink: MessageSink | undefined): void {
    this.#sink = sink;
  }

  // --- the relay seam -------------------------------------------------------

  readonly #dialableAdverts = new WeakMap<object, boolean>();

  setRelayRoute(route: RelayRoute | undefined): void {
    this.#relay = route;
  }

  isConnected(node: NodeId): boolean {
    return this.#links.get(node)?.connected ?? false;
  }

  queuedTo(node: NodeId): number {
    return this.#links.get(node)?.queue.length ?? 0;
  }

  deliverRelayed(message: EngineMessage, onRoom?: () => void): boolean | undefined {
    const source = (message.src as EngineAddress).node;
    if (this.#o.directory.node(source)?.trust === TRUST_BANNED) {
      this.#dropped('denied', new PeerDeniedError(source, 'trust 0'), source, message);
      return undefined;
    }
    this.#counters.relayedIn++;
    return this.#deliver(message, onRoom);
  }

  undeliverable(message: EngineMessage, error: Error): void {
    this.#undeliverable(message, error, 'relay-refused');
  }

  /** Whether the node's advert has an address one of our transports can dial. */
  #directUsable(node: NodeId): boolean {
    const addrs = this.#o.directory.node(node)?.advert?.addrs;
    if (addrs === undefined) return false;
    // Asked for every message offered to the relay path: worked out once per advert.
    let usable = this.#dialableAdverts.get(addrs);
    if (usable === undefined) {
      usable = addrs.some((a) => this.#transports.has(addressProtocol(a.url) ?? ''));
      this.#dialableAdverts.set(addrs, usable);
    }
    return usable;
  }

  // --- lifecycle ----------------------------------------------------------

  start(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#running) return Promise.resolve();
    this.#starting ??= this.#start(options.signal).finally(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  async #start(signal: AbortSignal | undefined): Promise<void> {
    try {
      for (const address of this.#o.listen ?? []) {
        const protocol = addressProtocol(address);
        const transport = protocol === undefined ? undefined : this.#transports.get(protocol);
        if (transport === undefined) throw new InvalidAddressError(address, 'no transport for its scheme');
        const listener = await transport.listen(address, (c) => this.#accept(c), {
          signal,
          acceptPeer: (peer) => this.#sessions.admit(peer)?.error !== 'Denied',
        });
        this.#listeners.push(listener);
        this.#logger.info({ addresses: listener.addresses }, 'listening');
      }
    } catch (error) {
      await this.#closeTransports();
      throw error;
    }
    this.#running = true;
  }

  async stop(): Promise<void> {
    if (this.#starting !== undefined) await this.#starting.catch(() => {});
    if (!this.#running) return;
    this.#running = false;
    const stopped = new ConnectionClosedError('transport engine stopped');
    for (const link of this.#links.values()) {
      link.rejectWaiters(stopped);
      for (const message of link.stop()) this.#undeliverable(message, stopped, 'stopped');
    }
    await Promise.all(this.#listeners.map((l) => l.close().catch(() => {})));
    this.#listeners = [];
    await this.#sessions.closeAll();
    await this.#closeTransports();
    await this.#sessions.release();
    this.#links.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #closeTransports(): Promise<void> {
    await Promise.all([...this.#transports.values()].map((t) => t.close().catch(() => {})));
    this.#transports.clear();
  }

  /** The addresses actually bound by our listeners (real ports when 0 was asked). */
  get listenAddresses(): string[] {
    return this.#listeners.flatMap((l) => l.addresses);
  }

  // --- NodeSender ---------------------------------------------------------

  canReach(node: NodeId): boolean {
    if (node === this.node) return true;
    const record = this.#o.directory.node(node);
    if (record?.trust === TRUST_BANNED) return false;
    if (this.#links.get(node)?.connected) return true;
    if (this.#directUsable(node)) return true;
    return this.#relay?.reaches(node) ?? false;
  }

  /** Sends to a reachable node in one call (see `NodeSender.trySend`); false when it cannot be reached. */
  trySend(message: EngineMessage): boolean {
    const dst = message.dst as EngineAddress;
    // The common case, a live direct link: one lookup of the node, then the link.
    const link = this.#running && dst.node !== undefined ? this.#links.get(dst.node) : undefined;
    if (link?.session !== undefined) {
      if (this.#o.directory.node(dst.node)?.trust === TRUST_BANNED) return false;
      link.send(message);
      return true;
    }
    // The rest of a run to a relayed node joins the batch its first message opened in this task.
    const relay = this.#relay;
    if (
      this.#running &&
      relay?.joinsOpenBatch !== undefined &&
      this.#o.directory.node(dst.node)?.trust !== TRUST_BANNED &&
      relay.joinsOpenBatch(message)
    ) {
      this.#counters.relayedOut++;
      return true;
    }
    if (isTopicAddress(message.dst) || !this.canReach(dst.node)) return false;
    this.send(message);
    return true;
  }

  send(message: EngineMessage): void {
    if (!this.#running) {
      this.#undeliverable(message, new NotStartedError('transport engine'), 'stopped');
      return;
    }
    if (isTopicAddress(message.dst)) {
      this.#undeliverable(message, new SchemaError('message.dst', 'a topic is not a node'), 'not-encodable');
      return;
    }
    const dst = message.dst as EngineAddress;
    if (dst.node === this.node) {
      // Loopback: the router normally keeps local messages, but a message to ourselves is still ours.
      queueMicrotask(() => this.#deliver(message));
      return;
    }
    if (this.#o.directory.node(dst.node)?.trust === TRUST_BANNED) {
      this.#undeliverable(message, new PeerDeniedError(dst.node, 'trust 0'), 'denied');
      return;
    }
    const link = this.#links.get(dst.node);
    // A live direct connection always wins; only a node without one is offered to the relay path.
    if (link?.session === undefined && this.#relay?.takes(message, this.#directUsable(dst.node))) {
      this.#counters.relayedOut++;
      return;
    }
    (link ?? this.#table.link(dst.node)).send(message);
  }

  sendRelayFrame(node: NodeId, head: Uint8Array, sealed: Uint8Array): boolean {
    if (!this.#running) return false;
    const link = this.#links.get(node);
    if (link === undefined || this.#o.directory.node(node)?.trust === TRUST_BANNED) return false;
    return link.sendRelayFrame(head, sealed);
  }

  // --- connections --------------------------------------------------------

  /** Opens (or reuses) a connection; `permanent` keeps it up. Resolves when connected. */
  async connect(node: NodeId, options: ConnectOptions = {}): Promise<void> {
    if (!this.#running) throw new NotStartedError('transport engine');
    options.signal?.throwIfAborted();
    if (node === this.node) return;
    const link = this.#table.link(node);
    if (options.permanent) link.setPermanent(true);
    const connected = link.whenConnected();
    if (options.signal === undefined) return connected;
    const signal = options.signal;
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      connected.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** Makes a link ephemeral again and closes its connection. */
  async disconnect(node: NodeId): Promise<void> {
    const link = this.#links.get(node);
    if (link === undefined) return;
    link.setPermanent(false);
    await link.session?.close('disconnect');
  }

  /**
   * Resolves once nothing waits in the queue for `node`: its messages were handed to the
   * connection, or dropped and reported. With `queued`, what a sender that must not overfill the
   * queue waits on instead of polling (it resolves at once when nothing is queued). Messages to a
   * node reached through a relay wait in the relay link's queue, not in the node's: for such a node
   * this resolves at once, and a sender paces on `queued` (or on the relay node's queue) instead.
   */
  whenQueueEmpty(node: NodeId): Promise<void> {
    return this.#links.get(node)?.whenQueueEmpty() ?? Promise.resolve();
  }

  connectedNodes(): NodeId[] {
    return [...this.#links.values()].filter((l) => l.connected).map((l) => l.node);
  }

  /**
   * Messages and bytes in and out per connected node, counted since the engine last had no link to
   * it (reconnects and duplicate connections add up). A copy: reading it costs nothing on the
   * message path.
   */
  peerCounters(): Record<NodeId, PeerTrafficCounters> {
    return peerTraffic(this.#links.values(), this.#sessions, this.#table.closedTraffic);
  }

  /** The last measured round-trip time to a connected node, in ms. */
  rtt(node: NodeId): number | undefined {
    return this.#links.get(node)?.session?.rttMs;
  }

  /** Messages waiting in the per-node queues, over all nodes (what `counters().queuedTotal` says, cheaply). */
  get queued(): number {
    return this.#table.queueBudget.used;
  }

  counters(): TransportCountersSnapshot {
    return countersSnapshot(this.#counters, this.#links.values(), this.#sessions.size);
  }

  /** Engine events as an async iterable (bounded: a slow reader loses the oldest). */
  status(signal?: AbortSignal): AsyncIterable<TransportEvent> {
    return this.events.events(signal ? { signal } : {});
  }

  // --- internals ----------------------------------------------------------

  #accept(connection: Connection): void {
    if (!this.#running || this.#sessions.overCapacity) {
      // Far over capacity: do not even spend a handshake on it.
      this.#counters.inboundRefused++;
      connection.abort(new ConnectionClosedError('over capacity'));
      return;
    }
    const session = this.#sessions.create(connection);
    // Adopted as it opens, before the messages the dialer sent with its ConnectRequest are read: a
    // reply to one of them then finds the session instead of dialing the caller back.
    session.handshake({ onOpen: () => this.#table.opened(session) }).catch((error: Error) => {
      this.#logger.debug({ peer: session.peer, err: error }, 'inbound handshake failed');
    });
  }

  readonly #sessionHooks: SessionHooks = {
    onMessage: (session, message) => this.#receive(session, message),
    onWritable: (session) => {
      const link = this.#links.get(session.peer);
      if (link?.session === session) link.pump();
    },
    onGoodbye: (session) => this.#table.lose(session, undefined),
    onClosed: (session, error) => this.#table.closed(session, error),
    onDropped: (reason, error, node, message) => this.#dropped(reason, error, node, message),
    admit: (peer) => this.#sessions.admit(peer),
    readStarted: () => {
      // The sink that hears the start hears the end, even if the sink is replaced in between.
      const sink = this.#sink;
      this.#readSinks.push(sink);
      sink?.readStarted?.();
    },
    readEnded: () => this.#readSinks.pop()?.readEnded?.(),
  };

  /** Trust can drop to 0 while a link is up: a banned peer (or source) gets nothing through. */
  #receive(session: ConnectionSession, message: EngineMessage): boolean | undefined {
    const source = (message.src as EngineAddress).node;
    const directory = this.#o.directory;
    if (directory.node(session.peer)?.trust === TRUST_BANNED) {
      this.#dropped('denied', new PeerDeniedError(session.peer, 'trust 0'), session.peer, message);
      void session.close('denied', 'banned');
      return undefined;
    }
    if (source !== session.peer && directory.node(source)?.trust === TRUST_BANNED) {
      this.#dropped('denied', new PeerDeniedError(source, 'trust 0'), source, message);
      return undefined;
    }
    return this.#deliver(message, session.onRoom);
  }

  #deliver(message: EngineMessage, onRoom?: () => void): boolean | undefined {
    const sink = this.#sink;
    if (sink === undefined) {
      const node = (message.src as EngineAddress).node;
      this.#dropped('no-sink', new NotStartedError('message sink'), node, message);
      return undefined;
    }
    return sink.deliver(message, onRoom);
  }

  #undeliverable(message: EngineMessage, error: Error, reason: TransportDropReason): void {
    const dst = message.dst as Partial<EngineAddress>;
    this.#dropped(reason, error, dst.node, message);
    try {
      this.#sink?.undeliverable(message, error);
    } catch (sinkError) {
      this.#logger.error({ err: sinkError }, 'message sink threw in undeliverable');
    }
  }

  #dropped(
    reason: TransportDropReason,
    error: Error,
    node: NodeId | undefined,
    message?: EngineMessage,
  ): void {
    this.#counters.dropped[reason]++;
    this.#logger.debug({ reason, peer: node, err: error }, 'message dropped');
    this.events.emit({ type: 'message:dropped', reason, node, message, error });
  }
}
