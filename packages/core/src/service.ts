import type { EventSource } from './events.js';
import type { EngineAddress, NodeId, TopicId } from './identity.js';
import type { EngineContext, EngineHandler, EngineOptions, EngineRef, NodeDirectory } from './interfaces.js';
import type { KeyPair } from './keys.js';
import type { Logger } from './logger.js';
import type { EngineMessage } from './message.js';

/**
 * Services plug into a node the way transports do: a package exports a factory
 * (`pubsub(options)`, `storage(options)`, `nats(options)`, later `domains()`, `relay()`,
 * `discovery()`) and the node calls it with a `ServiceContext` once its router, identity store and
 * Transport engine exist. A node runs only the services it is given.
 *
 * A factory declares what it needs by the type of its parameter, e.g.
 * `(context: Pick<ServiceContext, 'router' | 'keyPair' | 'logger'>) => PubSubEngine`: it can then be
 * run (and tested) with just those, and the compiler says when a node cannot give them.
 */
export type ServiceFactory<S extends Service = Service> = (context: ServiceContext) => S | Promise<S>;

/** A running service: the node starts services in the order given and stops them in reverse. */
export interface Service {
  /** Called once the router runs, before the node listens or connects. */
  start(options?: { signal?: AbortSignal }): Promise<void>;
  /** Called before the router and transports stop; must release everything the service holds. */
  stop(): Promise<void>;
  /** A plain snapshot of the service's counters, for status and metrics. */
  counters?(): object;
}

/** What a node gives each service factory. Every member is a core interface, never a concrete class. */
export interface ServiceContext {
  readonly node: NodeId;
  /** The node's key: services sign with it (pub/sub events, storage commitments, NATS deliveries). */
  readonly keyPair: KeyPair;
  /** Already scoped to the service (`{ service: name }`). */
  readonly logger: Logger;
  readonly router: ServiceRouter;
  /** The node directory (identity store): adverts, trust, round-trip times. */
  readonly identity: NodeDirectory;
  /** Peer connectivity as the Transport engine sees it. */
  readonly peers: PeerView;
  /** The Transport engine's relay seam (used by the relay service; other services ignore it). */
  readonly relayPath: RelayPath;
  /** A directory the service may keep files in; undefined for an in-memory node. */
  readonly dataDir: string | undefined;
  /** Aborted when the node stops: long-running work started by the service should end with it. */
  readonly signal: AbortSignal;
}

// --- the router, as services see it ------------------------------------------------------------

/**
 * Where the router hands topic traffic that concerns other nodes (implemented by the pubsub
 * service). The router itself does only local multicast.
 */
export interface TopicDelegate {
  /** A local publisher published `event` (already fanned out locally). */
  published(event: EngineMessage): void;
  /** The number of local subscribers of `topic` changed (0 means none left). */
  subscriptionsChanged(topic: TopicId, localSubscribers: number): void;
  /** Whether the delegate knows `topic` (e.g. from a TopicAdvert), so local engines may publish to it. */
  knows(topic: TopicId): boolean;
}

/** The router's local topic table: the seam between local multicast and a pub/sub service. */
export interface LocalTopics {
  /** Becomes (or, with undefined, stops being) the router's delegate for remote topic traffic. */
  setTopicDelegate(delegate: TopicDelegate | undefined): void;
  /** Records `publisher` as the one engine allowed to publish on `topic`. */
  createTopic(topic: TopicId, publisher: EngineAddress): void;
  deleteTopic(topic: TopicId): boolean;
  topicPublisher(topic: TopicId): EngineAddress | undefined;
  localSubscriberCount(topic: TopicId): number;
  /** Fans an event received from another node out to local subscribers; returns how many got it. */
  deliverTopicEvent(event: EngineMessage): number;
  /**
   * Events every local subscriber of `topic` can take now: the fewest free places in their mailboxes
   * (Infinity when it has none). A pub/sub service delivers no more than this, and waits for the rest.
   */
  topicRoom?(topic: TopicId): number;
}

/** An engine driven from outside a handler: a context to send with, and a ref to stop it. */
export interface EngineClient extends EngineContext, EngineRef {}

/** The router's engine runtime: spawn engines, send and request through them, and local topics. */
export interface ServiceRouter extends LocalTopics {
  readonly node: NodeId;
  spawn(name: string, handler: EngineHandler, options?: EngineOptions): EngineRef;
  /** An engine whose context is usable from outside its handler (send/request/publish/subscribe). */
  client(name: string, onMessage?: EngineHandler, options?: EngineOptions): EngineClient;
  engine(name: string): EngineRef | undefined;
}

// --- peers -----------------------------------------------------------------------------------

/** Connectivity events, in the one event shape (`type: '<subject>:<what>'`). */
export type PeerEvent =
  | {
      readonly type: 'peer:connected';
      readonly node: NodeId;
      readonly direction: 'inbound' | 'outbound';
      readonly protocol: string;
      readonly remoteAddress: string;
    }
  | { readonly type: 'peer:disconnected'; readonly node: NodeId; readonly error?: Error | undefined };

/** The Transport engine as services see it. */
export interface PeerView {
  /** Nodes with a live, authenticated connection now. */
  connectedNodes(): NodeId[];
  readonly events: EventSource<PeerEvent>;
}

// --- relays ----------------------------------------------------------------------------------

/**
 * What the Transport engine asks the relay service about a node it has no open direct connection
 * to. The engine still prefers a direct connection: it asks only when it has none.
 */
export interface RelayRoute {
  /**
   * Takes `message` onto the relay path when `dst.node` is to be reached through a relay now; false
   * leaves it to a direct link. `directUsable`: the node's advert has an address we can dial.
   */
  takes(message: EngineMessage, directUsable: boolean): boolean;
  /** Whether a relay path to `node` is known (the node's advert names a relay, or one was learned). */
  reaches(node: NodeId): boolean;
  /** A direct dial to `node` failed; the engine then moves the messages waiting for it to the relay path. */
  directFailed(node: NodeId, error: Error): void;
  /**
   * Takes `message` when a relayed batch to its node is already open in this task (the node passed
   * the engine's checks for that batch's first message); false sends it through the usual checks. A
   * run of messages to one relayed node then costs one lookup each, not the whole path decision.
   */
  joinsOpenBatch?(message: EngineMessage): boolean;
}

/** The Transport engine's side of the relay seam. */
export interface RelayPath {
  /** Becomes (or, with undefined, stops being) the route the engine asks about unconnected nodes. */
  setRelayRoute(route: RelayRoute | undefined): void;
  /** Opens (or reuses) a direct connection; `permanent` keeps it up. Resolves when connected. */
  connect(node: NodeId, options?: { permanent?: boolean; signal?: AbortSignal }): Promise<void>;
  /** Whether a direct connection to `node` is open now. */
  isConnected(node: NodeId): boolean;
  /**
   * Messages waiting in the queue to `node` (not yet written to its connection): a relay refuses or
   * holds back what it would pass on to a destination that does not keep up.
   */
  queuedTo(node: NodeId): number;
  /**
   * Writes a relay's Forward or Deliver as a Relay link frame (`head`: its length prefix, tag and
   * fixed fields; `sealed`: the rest) on the open connection to `node`, behind what that connection
   * has queued; it arrives as a message from our relay engine to the peer's, with protocol
   * `netmachine/relay-frame@1` and the frame's body as its body. False, writing nothing, when there
   * is no open connection, messages wait in the node's queue, or the connection pushes back: the
   * caller then sends an engine message, which waits its turn.
   */
  sendRelayFrame?(node: NodeId, head: Uint8Array, sealed: Uint8Array): boolean;
  /** Sends as the Router would: direct when connected, otherwise the route is asked again. */
  send(message: EngineMessage): void;
  /**
   * Hands a message that arrived through a relay, already opened and authenticated, to local engines.
   * Returns false when the receiver is over capacity: the message is kept, and `onRoom` is called once
   * when it can take more (as for a direct link).
   */
  deliverRelayed(message: EngineMessage, onRoom?: () => void): boolean | undefined;
  /** Reports a message the relay path will not deliver (refused, expired, no relay). */
  undeliverable(message: EngineMessage, error: Error): void;
}
