import type { NodeAdvert } from './adverts.js';
import type { AnycastAddress } from './anycast.js';
import type { EngineAddress, NodeId, TopicId } from './identity.js';
import type { KeyPair } from './keys.js';
import type { Logger } from './logger.js';
import type { Destination, EngineMessage, TransportPrefs } from './message.js';

// --- lifecycle ------------------------------------------------------------

/** One lifecycle for every component: idempotent start/stop, and `await using`. */
export interface Startable {
  start(options?: { signal?: AbortSignal }): Promise<void>;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

// --- transports -----------------------------------------------------------

/** What a transport factory is given by the node that uses it. */
export interface TransportContext {
  /** The node's key: it backs the TLS/QUIC certificate. */
  readonly keyPair: KeyPair;
  readonly logger: Logger;
}

/**
 * Callbacks a connection delivers to its owner. Plain callbacks rather than events: they sit on the
 * hot path of every byte received.
 */
export interface ConnectionHandlers {
  /** Bytes received, in order. The buffer may be reused after the call returns; copy what you keep. */
  onData(chunk: Buffer): void;
  /** The write buffer drained below its high-water mark: writing may resume. */
  onDrain(): void;
  /** The connection is closed; `error` says why when it was not a clean close. Called once. */
  onClose(error?: Error): void;
}

/**
 * A mutually authenticated, reliable, ordered byte stream to one peer node. The transport has
 * verified that the peer holds the private key of `remoteNode` before the connection is handed out.
 */
export interface Connection {
  readonly remoteNode: NodeId;
  readonly remoteAddress: string;
  readonly direction: 'inbound' | 'outbound';
  /** The transport protocol (`tls`, `quic`, `memory`, …). */
  readonly protocol: string;
  /** Starts delivery to `handlers`. Data that arrived before is delivered first. Call once. */
  setHandlers(handlers: ConnectionHandlers): void;
  /**
   * Queues bytes for sending. Returns false when the write buffer is above its high-water mark:
   * the caller should stop writing until `onDrain`. The bytes are still queued.
   */
  write(data: Uint8Array): boolean;
  /**
   * Like `write`, for bytes the caller hands over and never changes again: they need no copy, and
   * when nothing else is queued they go to the network at once instead of at the end of the tick.
   * Optional: a transport without it is written with `write`.
   *
   * `written`, when given, is called at most once, when the connection no longer refers to any byte of
   * `data` (the socket has sent or copied them): the caller may then write into that memory again. A
   * connection that cannot tell (or drops `data` on close, or fails to send it) never calls it: the
   * caller then leaves the memory to the GC.
   */
  writeOwned?(data: Uint8Array, written?: () => void): boolean;
  /** Bytes queued but not yet handed to the network. */
  readonly bufferedBytes: number;
  /** Flushes queued bytes and closes gracefully. */
  close(): Promise<void>;
  /**
   * True when, once `close()` has begun, what the peer still sends is delivered (`onData`) until it
   * closes its side too (a half-close, as TLS over TCP has): a graceful close then need not wait for
   * the peer's answer before closing its own side.
   */
  readonly readsAfterClose?: boolean;
  /** Closes at once, discarding queued bytes. */
  abort(error?: Error): void;
  /**
   * Stops delivering received data until `resume` (flow control): the peer's writes then back up
   * to it through the network's own window. Optional: a transport without it is never paused.
   */
  pause?(): void;
  resume?(): void;
}

/** An open listening endpoint. */
export interface Listener {
  /** The addresses actually bound (with the real port when 0 was asked). */
  readonly addresses: readonly string[];
  close(): Promise<void>;
}

export interface DialOptions {
  signal?: AbortSignal;
  /**
   * Bytes the caller writes first on the new connection. Only a transport that declares
   * `sendsFirstBytesEarly` reads this: it sends them as soon as it has pinned the listener's key,
   * with its own handshake's last flight, so the caller's first exchange costs no extra round trip.
   * The caller must not write them again. Other transports ignore it. A function is called once,
   * just before the bytes are sent (after the key is pinned): the caller can add what it queued
   * during the handshake, knowing that what it returns was handed to this connection.
   */
  firstBytes?: Uint8Array | (() => Uint8Array);
}

export interface ListenOptions {
  signal?: AbortSignal;
  /**
   * Decides, during the TLS/QUIC handshake, whether a caller presenting `node` may connect.
   * Refused callers never get a session. Defaults to accepting every caller (the trust check happens
   * in the Transport engine's handshake).
   */
  acceptPeer?: (node: NodeId) => boolean;
}

/**
 * A transport plugin: dials and listens for one URL scheme. A transport package exports a factory
 * `tls(options)` returning a `TransportFactory`; the node calls it with its context.
 */
export interface Transport {
  /** The URL scheme this transport serves, e.g. `tls`. */
  readonly protocol: string;
  /** True when `dial` sends `DialOptions.firstBytes` itself, ahead of the listener's acceptance. */
  readonly sendsFirstBytesEarly?: boolean;
  /** Opens a connection to `address`, succeeding only if the peer proves it holds `expected`'s key. */
  dial(address: string, expected: NodeId, options?: DialOptions): Promise<Connection>;
  /** Listens on `address` and hands each authenticated inbound connection to `onConnection`. */
  listen(
    address: string,
    onConnection: (connection: Connection) => void,
    options?: ListenOptions,
  ): Promise<Listener>;
  /** Closes listeners and connections this transport owns. */
  close(): Promise<void>;
}

export type TransportFactory = (context: TransportContext) => Transport;

// --- storage ----------------------------------------------------------------

/**
 * A persistent key-value store of msgpack-able values. `put` and `delete` resolve only when the
 * change is durable. Keys are strings.
 */
export interface Store<V = unknown> {
  get(key: string): Promise<V | undefined>;
  put(key: string, value: V): Promise<void>;
  delete(key: string): Promise<boolean>;
  /** All entries whose key starts with `prefix`, in key order. */
  entries(prefix?: string): AsyncIterable<[string, V]>;
  close(): Promise<void>;
}

// --- engines ----------------------------------------------------------------

/** What an engine does when its mailbox is full. */
export type MailboxPolicy = 'wait' | 'drop-oldest' | 'reject';

/** What happens to an engine whose handler throws. */
export type FailurePolicy = 'continue' | 'stop';

export interface SendOptions {
  /** Absolute expiry, ms since the epoch. */
  expiry?: number;
  /** Relative time-to-live in ms (sets expiry). */
  ttlMs?: number;
  protocol?: string;
  prefs?: TransportPrefs;
  signal?: AbortSignal;
}

export interface RequestOptions extends SendOptions {
  /** Reject with RequestTimeoutError after this many ms (default 10 s). */
  timeoutMs?: number;
  /**
   * Anycast only: how long one member is given before the next is tried (default a quarter of
   * `timeoutMs`, at least 250 ms). A slow member may then serve too: anycast is at-least-once.
   */
  attemptTimeoutMs?: number;
}

export interface EngineOptions {
  /** Mailbox capacity in messages (default 1024). */
  mailboxSize?: number;
  /**
   * Under policy `wait`, messages kept waiting for room once the mailbox is full (default
   * `mailboxSize`); one beyond these is rejected. A connection parks at most one before it stops
   * reading, so an engine that many nodes send to keeps a small mailbox and room for one per node.
   */
  maxParked?: number;
  mailboxPolicy?: MailboxPolicy;
  onError?: FailurePolicy;
  /**
   * A message sent to it from another node (not a topic event) that finds the engine idle (nothing
   * queued, no handler running) is handled as it arrives, in the read that brought it, without a
   * pass through the mailbox; any other waits in the mailbox as usual, so the order is kept
   * (default false). For an engine that passes messages on, where every step after a wake-up is on
   * the message's path.
   */
  runOnArrival?: boolean;
}

/** A running engine, as seen by whoever spawned it. */
export interface EngineRef {
  readonly address: EngineAddress;
  /** Messages waiting in the mailbox. */
  readonly queued: number;
  stop(): Promise<void>;
}

/** The API a handler gets with every message. */
export interface EngineContext {
  readonly self: EngineAddress;
  readonly logger: Logger;
  /**
   * Fire-and-forget. A string destination is a local engine name; an anycast destination
   * `{ domain, name }` reaches one member of the domain running `name`.
   */
  send(dst: Destination | AnycastAddress | string, body: unknown, options?: SendOptions): void;
  /**
   * Sends and resolves with the reply; rejects with a typed error (unknown destination, timeout, abort).
   * To an anycast destination, a member that does not answer in time is skipped for the next one, and
   * the reply comes from whoever served it.
   */
  request<R = unknown>(
    dst: Destination | AnycastAddress | string,
    body: unknown,
    options?: RequestOptions,
  ): Promise<EngineMessage<R>>;
  /** Answers `to` (sets replyTo and sends to its source). */
  reply(to: EngineMessage, body: unknown, options?: SendOptions): void;
  publish(topic: TopicId, body: unknown, options?: SendOptions): void;
  subscribe(topic: TopicId): void;
  unsubscribe(topic: TopicId): void;
  spawn(name: string, handler: EngineHandler, options?: EngineOptions): EngineRef;
}

/** An engine's behaviour: called with one message at a time. */
export type EngineHandler = (message: EngineMessage, context: EngineContext) => void | Promise<void>;

// --- the seams between router, transport engine and identity store ----------

/** Trust in a node: 0 = banned, 128 = default, 255 = fully trusted. */
export const TRUST_BANNED = 0;
export const TRUST_DEFAULT = 128;

/** What the Transport engine needs to know about a node, read synchronously on the send path. */
export interface NodeRecordView {
  readonly id: NodeId;
  readonly advert?: NodeAdvert | undefined;
  /** 0 = banned, 128 = default, 255 = fully trusted. */
  readonly trust: number;
  /** Transport protocols to prefer for this node, in order (e.g. `['quic', 'tls']`). */
  readonly transportPrefs?: readonly string[] | undefined;
}

/**
 * The node directory as the Transport engine and Router see it (implemented by the identity store):
 * synchronous lookups from memory, asynchronous durable updates.
 */
export interface NodeDirectory {
  node(id: NodeId): NodeRecordView | undefined;
  /**
   * Offers an advert learned from the network. Resolves true when stored (newer than the known one),
   * false when not newer; rejects with InvalidSignatureError for a bad signature.
   */
  offerNodeAdvert(advert: NodeAdvert): Promise<boolean>;
  /** Records a round-trip measurement for a node (ms). */
  recordRtt?(id: NodeId, rttMs: number): void;
}

/** How the Router hands messages to other nodes (implemented by the Transport engine). */
export interface NodeSender {
  /** True when the node can be tried: a live connection, or a known advert with addresses. */
  canReach(node: NodeId): boolean;
  /**
   * Queues `message` for `message.dst.node`. Does not throw for network conditions: a message that
   * cannot be delivered comes back through `MessageSink.undeliverable`.
   */
  send(message: EngineMessage): void;
  /**
   * `canReach(message.dst.node)` and, when it holds, `send(message)`, in one call: the sender looks
   * the node up once per message instead of twice. Returns false, and takes nothing, when the node
   * cannot be reached. Optional: without it the router calls the other two.
   */
  trySend?(message: EngineMessage): boolean;
}

/** How the Transport engine hands messages to the Router (implemented by the Router). */
export interface MessageSink {
  /**
   * A message received from a peer node, already authenticated. Returns false when the receiver is
   * over capacity: the message is kept, and `onRoom` is called once when it can take more; the caller
   * should stop reading from the peer until then (backpressure instead of loss).
   */
  deliver(message: EngineMessage, onRoom?: () => void): boolean | undefined;
  /**
   * Optional, called in pairs (which may nest) around the `deliver` calls of one read from a
   * connection. A sink may hold back work that those messages start until the read has ended: the
   * router runs the engines they were delivered to there, in the turn that read them, rather than on
   * a microtask that waits behind the stream's own callbacks.
   */
  readStarted?(): void;
  readEnded?(): void;
  /** A message given to `NodeSender.send` that will never be delivered (expired, refused, no address). */
  undeliverable(message: EngineMessage, error: Error): void;
  /**
   * The connection to `node` failed (not a clean close). What was written to it and not yet answered is lost (delivery is
   * at most once), so requests waiting on that node should fail now with `error` (a
   * `ConnectionClosedError`) instead of waiting for their timeout.
   */
  connectionLost?(node: NodeId, error: Error): void;
}
