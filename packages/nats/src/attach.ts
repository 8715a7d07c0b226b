import { randomBytes } from 'node:crypto';
import type { Msg, Subscription } from '@nats-io/transport-node';
import {
  AbortedError,
  type Destination,
  type EngineAddress,
  type EngineContext,
  type EngineMessage,
  FrameTooLargeError,
  formatEngineAddress,
  isExpired,
  isTopicAddress,
  type Logger,
  noopLogger,
  QueueFullError,
  type RequestOptions,
  type SendOptions,
  type TopicId,
} from '@netmachine/core';
import { AttachHandshake } from './attach-handshake.js';
import {
  type AttachedEngineCounters,
  type AttachedEngineEvent,
  type AttachOptions,
  DROP_COUNTER,
  type ProcessDropReason,
} from './attach-options.js';
import { destinationOf, openRequestResult, sealOutgoing } from './attach-outgoing.js';
import { DeliveryQueue } from './delivery-queue.js';
import { abortable, NotAttachedError, natsRequestError, UnsupportedOperationError } from './errors.js';
import { guardedCallback, Listeners } from './listeners.js';
import { maxPayload, NatsLink } from './nats-link.js';
import { decodeDelivery, MAX_TOPICS_PER_INSTANCE, type OutKind } from './protocol.js';
import { sessionStart } from './replay-guard.js';
import { tagValid } from './session-keys.js';
import { Subjects } from './subjects.js';

/** Extra time a NATS request waits beyond the router's own timeout, so the node's answer wins. */
const REQUEST_GRACE_MS = 1000;
/** Most deliveries held while this process learns the keys of the session they came from. */
const MAX_HELD = 256;

/**
 * Attaches engine `name` of node `node` from this process through NATS, and resolves once the node
 * accepted it. Rejects with AttachRefusedError if the node refuses the key, AbortedError on `signal`.
 */
export async function attachEngine(options: AttachOptions): Promise<AttachedEngine> {
  const engine = new AttachedEngine(options);
  await engine.start({ signal: options.signal });
  return engine;
}

/**
 * An engine that lives in this process and is addressed on its node like any other. It has the
 * handler/context API of an in-process engine. It attaches with a handshake signed by the engine
 * key (the node answers signed by the node key); after that, what travels either way carries a tag
 * under the session keys that handshake agreed.
 */
export class AttachedEngine implements EngineContext {
  readonly self: EngineAddress;
  readonly logger: Logger;
  readonly instance = randomBytes(12).toString('base64url');
  readonly #counters: AttachedEngineCounters = {
    received: 0,
    handled: 0,
    sent: 0,
    handlerErrors: 0,
    dropped: { mailboxFull: 0, expired: 0, invalid: 0, notAttached: 0, tooLarge: 0 },
  };
  private readonly subjects: Subjects;
  private readonly link: NatsLink;
  private readonly events = new Listeners<AttachedEngineEvent>();
  private readonly queue: DeliveryQueue;
  private readonly topics = new Set<TopicId>();
  private readonly requestTimeoutMs: number;
  private readonly handshake: AttachHandshake;
  private subscription: Subscription | undefined;
  /** Deliveries from a session whose keys this process does not have yet (bounded by MAX_HELD). */
  private held: Uint8Array[] = [];
  private nextId = 1;
  private stopped = false;

  constructor(private readonly options: AttachOptions) {
    this.self = { node: options.node, name: options.name };
    this.logger = (options.logger ?? noopLogger).child({ engine: options.name, instance: this.instance });
    this.subjects = new Subjects(options.node, options.subjectPrefix);
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.queue = new DeliveryQueue(options.mailboxSize ?? 1024, (message) => this.handle(message));
    this.link = new NatsLink(
      options,
      {
        onConnection: (connection) => {
          this.subscription?.unsubscribe();
          this.subscription = connection.subscribe(this.subjects.engine(options.name), {
            queue: this.subjects.queueGroup(options.name),
            callback: guardedCallback(
              (msg) => this.onDelivery(msg),
              (error) => this.logger.error({ err: error }, 'delivery handling failed'),
            ),
          });
        },
        // Announce at once on every (re)connection: the node may have forgotten us meanwhile.
        onUp: () => this.handshake.schedule(0),
        onDown: () => {
          this.handshake.acknowledged = false;
        },
        onEvent: (event) => this.events.emit(event),
      },
      this.logger,
      `netmachine-engine-${options.name}`,
    );
    this.handshake = new AttachHandshake({
      self: this.self,
      instance: this.instance,
      key: options.key,
      link: this.link,
      subjects: this.subjects,
      topics: this.topics,
      heartbeatMs: options.heartbeatMs ?? 1000,
      events: this.events,
      logger: this.logger,
      released: () => this.releaseHeld(),
      dropped: (reason) => this.noteDrop(reason),
      refusedLater: () => void this.stop(),
    });
  }

  /** True while NATS is up and the node answers this process's heartbeats. */
  get attached(): boolean {
    return this.link.isUp && this.handshake.acknowledged;
  }

  /** A snapshot of the engine's counters. */
  counters(): AttachedEngineCounters {
    return structuredClone(this.#counters);
  }

  onEvent(listener: (event: AttachedEngineEvent) => void): () => void {
    return this.events.on('*', listener);
  }

  async start(options?: { signal?: AbortSignal }): Promise<void> {
    if (this.stopped) throw new NotAttachedError(this.self.name);
    const signal = options?.signal;
    if (signal?.aborted) throw new AbortedError(signal.reason);
    const attached = this.handshake.firstAttach();
    const onAbort = () => this.handshake.rejectFirstAttach(new AbortedError(signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    this.link.start();
    try {
      await attached;
    } catch (error) {
      await this.stop();
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Tells the node this process leaves (so it is detached at once), then closes the connection. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.handshake.close(new NotAttachedError(this.self.name));
    if (this.attached) await this.handshake.announce('detach').catch(() => {});
    this.subscription?.unsubscribe();
    this.queue.close();
    this.held = [];
    await this.link.stop();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Deliveries held for want of keys get another look once an attach reply brought some. */
  private releaseHeld(): void {
    if (this.held.length === 0) return;
    const held = this.held;
    this.held = [];
    for (const bytes of held) this.receive(bytes, true);
  }

  // --- node → this process ---------------------------------------------------------------------

  private noteDrop(reason: ProcessDropReason): void {
    this.#counters.dropped[DROP_COUNTER[reason]]++;
    this.events.emit({ type: 'message:dropped', reason });
  }

  private onDelivery(msg: Msg): void {
    this.receive(msg.data);
  }

  /** `released`: held before, and the node has answered since; a session still unknown is not the node's. */
  private receive(bytes: Uint8Array, released = false): void {
    let decoded: ReturnType<typeof decodeDelivery>;
    try {
      decoded = decodeDelivery(bytes);
    } catch (error) {
      this.logger.warn({ err: error }, 'delivery refused');
      this.noteDrop('invalid');
      return;
    }
    const { delivery } = decoded;
    if (delivery.instance !== undefined) {
      this.noteDrop('invalid');
      return;
    }
    const handshake = this.handshake;
    const keys = handshake.keys;
    if (keys === undefined || delivery.session !== keys.session) {
      // Older sessions' deliveries are replays. One from a session this process has no keys for
      // yet: the node's bridge restarted and another process of this name re-attached first, or
      // our own attach reply is still on its way. Hold it, and announce at once (the request goes
      // out before any reply the handler sends) to learn the keys.
      if (released || (keys !== undefined && sessionStart(delivery.session) <= sessionStart(keys.session))) {
        this.noteDrop('invalid');
        return;
      }
      this.hold(bytes);
      return;
    }
    if (!tagValid(keys.group, decoded.tagged, decoded.tag)) {
      this.logger.warn('delivery refused: not tagged by the node');
      this.noteDrop('invalid');
      return;
    }
    if (!handshake.seqs.accept(delivery.seq)) {
      this.noteDrop('invalid');
      return;
    }
    // An authentic delivery proves the node is there: answers to it may go out.
    handshake.acknowledged = true;
    handshake.unanswered = 0;
    this.#counters.received++;
    const message: EngineMessage = {
      id: delivery.id,
      src: delivery.src,
      dst: delivery.topic !== undefined ? { topic: delivery.topic } : this.self,
      replyTo: delivery.replyTo,
      expiry: delivery.expiry,
      protocol: delivery.protocol,
      body: delivery.body,
    };
    if (!this.queue.push(message)) this.noteDrop('mailbox-full');
  }

  /**
   * Holds a delivery until an attach reply brings its session's keys. Unauthenticated until then,
   * so bounded, and at most one announcement is in flight for it: forged session ids cost a sender
   * nothing but cannot make this process announce faster than the node answers.
   */
  private hold(bytes: Uint8Array): void {
    if (this.held.length >= Math.min(MAX_HELD, this.queue.capacity)) {
      this.noteDrop('mailbox-full');
      return;
    }
    this.held.push(bytes);
    if (!this.handshake.announcing) void this.handshake.announce('attach', true);
  }

  private async handle(message: EngineMessage): Promise<void> {
    if (isExpired(message)) {
      this.noteDrop('expired');
      return;
    }
    this.#counters.handled++;
    try {
      await this.options.handler(message, this);
    } catch (error) {
      this.#counters.handlerErrors++;
      this.logger.warn({ err: error }, 'engine handler failed');
      this.events.emit({ type: 'engine:error', error });
    }
  }

  // --- this process → node ----------------------------------------------------------------------

  /** Fire-and-forget: while detached (e.g. NATS is down) the message is dropped and counted. */
  private post(
    kind: OutKind,
    dst: Destination,
    body: unknown,
    options?: SendOptions,
    replyTo?: number,
  ): void {
    const connection = this.link.connection;
    const keys = this.handshake.keys;
    if (!this.attached || connection === undefined || keys === undefined) {
      this.noteDrop('not-attached');
      return;
    }
    const bytes = sealOutgoing(keys, this, this.nextId++, kind, dst, body, options, replyTo);
    if (bytes.length > maxPayload(connection)) {
      this.noteDrop('too-large');
      return;
    }
    try {
      connection.publish(this.subjects.out, bytes);
      this.#counters.sent++;
    } catch (error) {
      this.logger.warn({ err: error }, 'publish to NATS failed');
      this.noteDrop('not-attached');
    }
  }

  send(dst: Destination | string, body: unknown, options?: SendOptions): void {
    const target = destinationOf(this.self, dst);
    this.post(isTopicAddress(target) ? 'publish' : 'send', target, body, options);
  }

  reply(to: EngineMessage, body: unknown, options?: SendOptions): void {
    this.post('reply', to.src, body, options, to.id);
  }

  publish(topic: TopicId, body: unknown, options?: SendOptions): void {
    this.post('publish', { topic }, body, options);
  }

  async request<R = unknown>(
    dst: Destination | string,
    body: unknown,
    options?: RequestOptions,
  ): Promise<EngineMessage<R>> {
    const target = destinationOf(this.self, dst);
    if (isTopicAddress(target)) throw new UnsupportedOperationError('a request to a topic');
    const connection = this.link.connection;
    if (!this.attached || connection === undefined) throw new NotAttachedError(this.self.name);
    if (options?.signal?.aborted) throw new AbortedError(options.signal.reason);
    const timeoutMs = options?.timeoutMs ?? this.requestTimeoutMs;
    const keys = this.handshake.keys;
    if (keys === undefined) throw new NotAttachedError(this.self.name);
    const id = this.nextId++;
    const bytes = sealOutgoing(keys, this, id, 'request', target, body, options, undefined, timeoutMs);
    const where = formatEngineAddress(target);
    if (bytes.length > maxPayload(connection))
      throw new FrameTooLargeError(bytes.length, maxPayload(connection));
    this.#counters.sent++;
    let msg: Msg;
    try {
      const pending = connection.request(this.subjects.out, bytes, { timeout: timeoutMs + REQUEST_GRACE_MS });
      msg = options?.signal ? await abortable(pending, options.signal) : await pending;
    } catch (error) {
      throw natsRequestError(error, where, timeoutMs, this.self.name);
    }
    return openRequestResult<R>(msg.data, keys, this, id, where);
  }

  /** Subscribes the engine (all its processes share the events, one each) to a topic on its node. */
  subscribe(topic: TopicId): void {
    if (this.topics.has(topic)) return;
    if (this.topics.size >= MAX_TOPICS_PER_INSTANCE) {
      throw new QueueFullError('topic subscriptions', MAX_TOPICS_PER_INSTANCE);
    }
    this.topics.add(topic);
    this.handshake.schedule(0);
  }

  unsubscribe(topic: TopicId): void {
    if (this.topics.delete(topic)) this.handshake.schedule(0);
  }

  spawn(): never {
    throw new UnsupportedOperationError('spawn');
  }
}
