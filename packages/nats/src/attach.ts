import { randomBytes } from 'node:crypto';
import type { Msg, Subscription } from '@nats-io/transport-node';
import {
  AbortedError,
  ConnectionClosedError,
  type Destination,
  type EngineAddress,
  type EngineContext,
  type EngineMessage,
  FrameTooLargeError,
  formatEngineAddress,
  isExpired,
  isTopicAddress,
  type KeyPair,
  type Logger,
  noopLogger,
  parseEngineAddress,
  QueueFullError,
  type RequestOptions,
  SchemaError,
  type SendOptions,
  type TopicId,
} from '@netmachine/core';
import {
  type AttachedEngineCounters,
  type AttachedEngineEvent,
  type AttachOptions,
  DROP_COUNTER,
  type ProcessDropReason,
} from './attach-options.js';
import { DEFAULT_PROTOCOL_NAME, DeliveryQueue } from './delivery-queue.js';
import {
  AttachRefusedError,
  abortable,
  errorFromWire,
  NotAttachedError,
  natsRequestError,
  UnsupportedOperationError,
} from './errors.js';
import { guardedCallback, Listeners } from './listeners.js';
import { maxPayload, NatsLink } from './nats-link.js';
import {
  type AnnounceKind,
  type AttachReply,
  decodeDelivery,
  encodeAnnouncement,
  MAX_TOPICS_PER_INSTANCE,
  type OutKind,
  openAttachReply,
  sealOut,
  signAnnouncement,
} from './protocol.js';
import { SequenceWindow, sessionStart } from './replay-guard.js';
import {
  derivePairKeys,
  EphemeralKey,
  type PairContext,
  type PairKeys,
  tagValid,
  unwrapGroupKey,
} from './session-keys.js';
import { Subjects } from './subjects.js';

/** Extra time a NATS request waits beyond the router's own timeout, so the node's answer wins. */
const REQUEST_GRACE_MS = 1000;
/** Most deliveries held while this process learns the keys of the session they came from. */
const MAX_HELD = 256;

/** What this process shares with the bridge for one bridge session. */
interface SessionKeys {
  readonly session: string;
  readonly bridgeDhKey: Uint8Array;
  readonly pair: PairKeys;
  readonly group: Buffer;
}

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
  private readonly key: KeyPair;
  private readonly link: NatsLink;
  private readonly events = new Listeners<AttachedEngineEvent>();
  private readonly queue: DeliveryQueue;
  private readonly topics = new Set<TopicId>();
  private readonly requestTimeoutMs: number;
  private subscription: Subscription | undefined;
  private session: string | undefined;
  private keys: SessionKeys | undefined;
  /** This run's X25519 key: with the bridge session's, it gives the session keys. */
  readonly #dh = new EphemeralKey();
  /** Deliveries from a session whose keys this process does not have yet (bounded by MAX_HELD). */
  private held: Uint8Array[] = [];
  private sessionSeqs = new SequenceWindow();
  private heartbeatMs: number;
  /** The node answered the last announcement (or at most one went unanswered since). */
  private acknowledged = false;
  private unanswered = 0;
  private nextId = 1;
  private timer: NodeJS.Timeout | undefined;
  private announcing = false;
  private firstAttach: { resolve: () => void; reject: (error: Error) => void } | undefined;
  private stopped = false;

  constructor(private readonly options: AttachOptions) {
    this.self = { node: options.node, name: options.name };
    this.key = options.key;
    this.logger = (options.logger ?? noopLogger).child({ engine: options.name, instance: this.instance });
    this.subjects = new Subjects(options.node, options.subjectPrefix);
    this.heartbeatMs = options.heartbeatMs ?? 1000;
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
        onUp: () => this.schedule(0),
        onDown: () => {
          this.acknowledged = false;
        },
        onEvent: (event) => this.events.emit(event),
      },
      this.logger,
      `netmachine-engine-${options.name}`,
    );
  }

  /** True while NATS is up and the node answers this process's heartbeats. */
  get attached(): boolean {
    return this.link.isUp && this.acknowledged;
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
    const attached = new Promise<void>((resolve, reject) => {
      this.firstAttach = { resolve, reject };
    });
    const onAbort = () => this.firstAttach?.reject(new AbortedError(signal?.reason));
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
    if (this.timer) clearTimeout(this.timer);
    this.firstAttach?.reject(new NotAttachedError(this.self.name));
    this.firstAttach = undefined;
    if (this.attached) await this.announce('detach').catch(() => {});
    this.subscription?.unsubscribe();
    this.queue.close();
    this.held = [];
    await this.link.stop();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  // --- announcing -----------------------------------------------------------------------------

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      void this.announce('attach').finally(() => this.schedule(this.heartbeatMs));
    }, delayMs);
    this.timer.unref();
  }

  /**
   * Sends an announcement (synchronously, before the first await: callers rely on it preceding
   * what they publish next) and handles the node's answer. `force` sends even while a heartbeat
   * is still waiting for its answer.
   */
  private async announce(kind: AnnounceKind, force = false): Promise<void> {
    const connection = this.link.connection;
    if (connection === undefined || !this.link.isUp) return;
    if (this.announcing && kind === 'attach' && !force) return;
    this.announcing = true;
    try {
      const nonce = randomBytes(16);
      const announcement = signAnnouncement(this.key, this.self.node, {
        kind,
        name: this.self.name,
        instance: this.instance,
        timestamp: Date.now(),
        nonce,
        topics: [...this.topics],
        server: connection.getServer(),
        dhKey: this.#dh.publicKey,
      });
      let msg: Msg;
      try {
        msg = await connection.request(this.subjects.attach, encodeAnnouncement(announcement), {
          timeout: Math.max(1000, 2 * this.heartbeatMs),
        });
      } catch (error) {
        this.logger.debug({ err: error }, 'announcement not answered');
        // Two in a row: the node is gone (or has forgotten us); stop sending until it answers again.
        if (kind === 'attach' && ++this.unanswered >= 2) this.acknowledged = false;
        return;
      }
      const context = { node: this.self.node, name: this.self.name, instance: this.instance, nonce };
      let reply: ReturnType<typeof openAttachReply>;
      try {
        reply = openAttachReply(msg.data, context);
      } catch (error) {
        this.logger.warn({ err: error }, 'attach reply not from the node');
        this.noteDrop('invalid');
        return;
      }
      if (kind === 'detach') return;
      if (!reply.ok) {
        // A full bridge may have room at the next heartbeat; every other refusal is final.
        if (reply.code === 'over-capacity' && this.firstAttach === undefined) {
          this.logger.warn('node over capacity; retrying at the next heartbeat');
          return;
        }
        this.refused(new AttachRefusedError(this.self.name, reply.code, reply.reason));
        return;
      }
      if (this.session === undefined || sessionStart(reply.session) > sessionStart(this.session)) {
        this.enterSession(reply.session);
      }
      if (reply.session === this.session) {
        try {
          this.keys = this.sessionKeys(reply);
        } catch (error) {
          this.logger.warn({ err: error }, 'attach reply without usable session keys');
          this.noteDrop('invalid');
          return;
        }
      }
      this.heartbeatMs = Math.max(50, reply.heartbeatMs);
      this.acknowledged = true;
      this.unanswered = 0;
      this.firstAttach?.resolve();
      this.firstAttach = undefined;
      this.releaseHeld();
    } finally {
      this.announcing = false;
    }
  }

  /** The keys of the reply's session: agreed once per session, the group key read from every reply. */
  private sessionKeys(reply: AttachReply): SessionKeys {
    const current = this.keys;
    const context: PairContext = {
      node: this.self.node,
      name: this.self.name,
      instance: this.instance,
      session: reply.session,
      processDhKey: this.#dh.publicKey,
      bridgeDhKey: reply.dhKey,
    };
    const pair =
      current !== undefined &&
      current.session === reply.session &&
      Buffer.compare(current.bridgeDhKey, reply.dhKey) === 0
        ? current.pair
        : derivePairKeys(this.#dh.agree(reply.dhKey), context);
    const group = unwrapGroupKey(pair, context, reply.groupKey);
    return { session: reply.session, bridgeDhKey: reply.dhKey, pair, group };
  }

  /** Deliveries held for want of keys get another look once an attach reply brought some. */
  private releaseHeld(): void {
    if (this.held.length === 0) return;
    const held = this.held;
    this.held = [];
    for (const bytes of held) this.receive(bytes, true);
  }

  private enterSession(session: string): void {
    this.session = session;
    this.sessionSeqs = new SequenceWindow();
    this.logger.info({ session }, 'attached');
    this.events.emit({ type: 'engine:attached', session });
  }

  private refused(error: AttachRefusedError): void {
    this.logger.error({ err: error }, 'attach refused');
    this.events.emit({ type: 'attach:refused', error });
    if (this.firstAttach) this.firstAttach.reject(error);
    else void this.stop();
    this.firstAttach = undefined;
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
    const keys = this.keys;
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
    if (!this.sessionSeqs.accept(delivery.seq)) {
      this.noteDrop('invalid');
      return;
    }
    // An authentic delivery proves the node is there: answers to it may go out.
    this.acknowledged = true;
    this.unanswered = 0;
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
    if (!this.announcing) void this.announce('attach', true);
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

  private destination(dst: Destination | string): Destination {
    if (typeof dst !== 'string') return dst;
    if (dst.includes('@')) return parseEngineAddress(dst);
    return { node: this.self.node, name: dst };
  }

  private seal(
    keys: SessionKeys,
    kind: OutKind,
    dst: Destination,
    body: unknown,
    options: SendOptions | undefined,
    replyTo: number | undefined,
    timeoutMs?: number,
  ): { id: number; bytes: Buffer } {
    const id = this.nextId++;
    let expiry = options?.expiry;
    if (expiry === undefined && options?.ttlMs !== undefined) expiry = Date.now() + options.ttlMs;
    const bytes = sealOut(keys.pair.out, {
      name: this.self.name,
      instance: this.instance,
      kind,
      id,
      dst,
      replyTo,
      expiry,
      protocol: options?.protocol ?? DEFAULT_PROTOCOL_NAME,
      body,
      timeoutMs,
    });
    return { id, bytes };
  }

  /** Fire-and-forget: while detached (e.g. NATS is down) the message is dropped and counted. */
  private post(
    kind: OutKind,
    dst: Destination,
    body: unknown,
    options?: SendOptions,
    replyTo?: number,
  ): void {
    const connection = this.link.connection;
    const keys = this.keys;
    if (!this.attached || connection === undefined || keys === undefined) {
      this.noteDrop('not-attached');
      return;
    }
    const { bytes } = this.seal(keys, kind, dst, body, options, replyTo);
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
    const target = this.destination(dst);
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
    const target = this.destination(dst);
    if (isTopicAddress(target)) throw new UnsupportedOperationError('a request to a topic');
    const connection = this.link.connection;
    if (!this.attached || connection === undefined) throw new NotAttachedError(this.self.name);
    if (options?.signal?.aborted) throw new AbortedError(options.signal.reason);
    const timeoutMs = options?.timeoutMs ?? this.requestTimeoutMs;
    const keys = this.keys;
    if (keys === undefined) throw new NotAttachedError(this.self.name);
    const { id, bytes } = this.seal(keys, 'request', target, body, options, undefined, timeoutMs);
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
    const { delivery: result, tagged, tag } = decodeDelivery(msg.data);
    if (result.session !== keys.session || !tagValid(keys.pair.results, tagged, tag)) {
      throw new SchemaError('delivery.tag', 'a result not from the node');
    }
    if (result.instance !== this.instance || result.requestId !== id) {
      throw new ConnectionClosedError('a reply that answers another request');
    }
    if (result.error) throw errorFromWire(result.error[0], result.error[1], where);
    return {
      id: result.id,
      src: result.src,
      dst: this.self,
      replyTo: result.replyTo,
      expiry: result.expiry,
      protocol: result.protocol,
      body: result.body as R,
    };
  }

  /** Subscribes the engine (all its processes share the events, one each) to a topic on its node. */
  subscribe(topic: TopicId): void {
    if (this.topics.has(topic)) return;
    if (this.topics.size >= MAX_TOPICS_PER_INSTANCE) {
      throw new QueueFullError('topic subscriptions', MAX_TOPICS_PER_INSTANCE);
    }
    this.topics.add(topic);
    this.schedule(0);
  }

  unsubscribe(topic: TopicId): void {
    if (this.topics.delete(topic)) this.schedule(0);
  }

  spawn(): never {
    throw new UnsupportedOperationError('spawn');
  }
}
