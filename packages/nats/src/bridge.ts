import { randomBytes } from 'node:crypto';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  base32Encode,
  type EngineAddress,
  type EngineContext,
  type EngineHandler,
  type EngineMessage,
  type EngineOptions,
  type EngineRef,
  FrameTooLargeError,
  InvalidIdentityError,
  isExpired,
  isTopicAddress,
  type KeyPair,
  type Logger,
  type NodeId,
  NotStartedError,
  noopLogger,
  QueueFullError,
  type Startable,
  type TopicId,
} from '@netmachine/core';
import { type AttachRefusal, errorToWire } from './errors.js';
import { Listeners } from './listeners.js';
import { type LinkEvent, type LinkOptions, maxPayload, NatsLink } from './nats-link.js';
import {
  type Announcement,
  decodeAnnouncement,
  decodeOut,
  type OutMessage,
  sealDelivery,
  signAttachReply,
  verifyAnnouncement,
  verifyOut,
} from './protocol.js';
import { NonceCache, SequenceWindow } from './replay-guard.js';
import { Subjects } from './subjects.js';

/** The part of the Router the bridge uses: it works with any router that offers these. */
export interface BridgeRouter {
  readonly node: NodeId;
  client(name: string, onMessage?: EngineHandler, options?: EngineOptions): EngineContext & EngineRef;
  engine(name: string): EngineRef | undefined;
}

export interface NatsBridgeOptions extends LinkOptions {
  router: BridgeRouter;
  /** The node's key: deliveries to processes are signed with it. Its id must be the router's node. */
  keyPair: KeyPair;
  /** Engine name → public keys (base32 text) allowed to attach as that engine. */
  trustedKeys?: Readonly<Record<string, readonly string[]>>;
  /** Further keys to accept, decided by the caller (e.g. from an identity store). */
  authorize?: (name: string, publicKey: Uint8Array) => boolean;
  subjectPrefix?: string;
  /** How often processes announce themselves (sent to them in the attach reply). Default 1000. */
  heartbeatMs?: number;
  /** Heartbeats a process may miss before it is detached. Default 3. */
  missedHeartbeats?: number;
  /** How far an announcement's timestamp may be from this clock. Default 30 s. */
  maxClockSkewMs?: number;
  /** Engine names attached at once; further names are refused. Default 1024. */
  maxEngines?: number;
  /** Processes per engine name. Default 64. */
  maxInstancesPerEngine?: number;
  /** Requests from processes waiting for their reply; further ones fail with QueueFullError. Default 4096. */
  maxPendingRequests?: number;
  /** Mailbox of each proxy engine (policy `reject`). Default 1024. */
  mailboxSize?: number;
  logger?: Logger;
}

/** Why the bridge refused something a process sent on `out`. */
export type OutRejection = 'malformed' | 'not-attached' | 'bad-signature' | 'replayed' | 'refused-by-router';

export type BridgeEvent =
  | LinkEvent
  | { type: 'attached'; name: string; instance: string }
  | { type: 'detached'; name: string; instance: string; reason: 'left' | 'timeout' | 'stopped' }
  | { type: 'refused'; name: string; reason: AttachRefusal }
  | { type: 'rejected'; reason: OutRejection; name?: string }
  | { type: 'dropped'; reason: 'expired' | 'unencodable' | 'publish-failed' | 'disconnected'; name: string };

export interface NatsBridgeCounters {
  attaches: number;
  detaches: number;
  refused: Record<AttachRefusal, number>;
  /** Messages published to processes (deliveries and request results). */
  toProcesses: number;
  /** Messages from processes injected into the router. */
  fromProcesses: number;
  rejected: Record<OutRejection, number>;
  dropped: { expired: number; unencodable: number; publishFailed: number; disconnected: number };
  slowConsumers: number;
  reconnects: number;
}

function newCounters(): NatsBridgeCounters {
  return {
    attaches: 0,
    detaches: 0,
    refused: {
      'untrusted-key': 0,
      'bad-signature': 0,
      stale: 0,
      replayed: 0,
      'name-taken': 0,
      'over-capacity': 0,
      malformed: 0,
    },
    toProcesses: 0,
    fromProcesses: 0,
    rejected: { malformed: 0, 'not-attached': 0, 'bad-signature': 0, replayed: 0, 'refused-by-router': 0 },
    dropped: { expired: 0, unencodable: 0, publishFailed: 0, disconnected: 0 },
    slowConsumers: 0,
    reconnects: 0,
  };
}

interface Instance {
  readonly id: string;
  readonly publicKey: Uint8Array;
  lastSeen: number;
  topics: readonly TopicId[];
  readonly outIds: SequenceWindow;
}

/** One engine name attached through NATS: its proxy on the router and the processes behind it. */
interface AttachedEngine {
  readonly name: string;
  readonly address: EngineAddress;
  readonly subject: string;
  readonly proxy: EngineContext & EngineRef;
  readonly instances: Map<string, Instance>;
  readonly topics: Set<TopicId>;
  /** Aborted when the proxy is detached: a delivery waiting for NATS gives up. */
  readonly detached: AbortController;
}

export interface NatsBridgeStatus {
  readonly connected: boolean;
  readonly engines: Readonly<Record<string, number>>;
  readonly pendingRequests: number;
}

/**
 * Bridges a node's router to NATS: processes attach engines by name, and each attached name is a
 * proxy engine on the router whose messages are signed and published to the processes' queue
 * group. What processes send comes back on one subject, is verified, and enters the router as
 * the proxy engine's own traffic. See the README for the subject scheme and the fault rules.
 */
export class NatsBridge implements Startable {
  readonly counters: NatsBridgeCounters = newCounters();
  readonly subjects: Subjects;
  readonly session = randomBytes(12).toString('base64url');
  private readonly router: BridgeRouter;
  private readonly key: KeyPair;
  private readonly logger: Logger;
  private readonly link: NatsLink;
  private readonly events = new Listeners<BridgeEvent>();
  private readonly engines = new Map<string, AttachedEngine>();
  private readonly nonces: NonceCache;
  private readonly trusted = new Map<string, Set<string>>();
  private readonly heartbeatMs: number;
  private readonly detachAfterMs: number;
  private readonly maxSkewMs: number;
  private subscriptions: Subscription[] = [];
  private sweeper: NodeJS.Timeout | undefined;
  /** Liveness is only judged after the bridge itself has been connected for a full timeout. */
  private upSince = 0;
  private seq = 0;
  private pendingRequests = 0;
  private started = false;
  private stopped = false;

  constructor(private readonly options: NatsBridgeOptions) {
    this.router = options.router;
    this.key = options.keyPair;
    if (this.key.id !== this.router.node) {
      throw new InvalidIdentityError('the bridge key pair must be the key of the router node');
    }
    this.logger = (options.logger ?? noopLogger).child({ component: 'nats-bridge' });
    this.subjects = new Subjects(this.router.node, options.subjectPrefix);
    this.heartbeatMs = options.heartbeatMs ?? 1000;
    this.detachAfterMs = this.heartbeatMs * (options.missedHeartbeats ?? 3);
    this.maxSkewMs = options.maxClockSkewMs ?? 30_000;
    this.nonces = new NonceCache(2 * this.maxSkewMs, 100_000);
    for (const [name, keys] of Object.entries(options.trustedKeys ?? {}))
      this.trusted.set(name, new Set(keys));
    this.link = new NatsLink(
      options,
      {
        onConnection: (connection) => this.subscribe(connection),
        onUp: () => {
          this.upSince = Date.now();
        },
        onDown: () => {},
        onEvent: (event) => this.noteLinkEvent(event),
      },
      this.logger,
      `netmachine-node-${this.router.node.slice(0, 12)}`,
    );
  }

  get node(): NodeId {
    return this.router.node;
  }

  get connected(): boolean {
    return this.link.isUp;
  }

  onEvent(listener: (event: BridgeEvent) => void): () => void {
    return this.events.on(listener);
  }

  /** Resolves once connected to NATS; rejects with AbortedError on `signal` or stop. */
  whenConnected(signal?: AbortSignal): Promise<void> {
    return this.link.whenUp(signal);
  }

  /** Names attached right now, with their number of processes. */
  status(): NatsBridgeStatus {
    const engines: Record<string, number> = {};
    for (const [name, engine] of this.engines) engines[name] = engine.instances.size;
    return { connected: this.link.isUp, engines, pendingRequests: this.pendingRequests };
  }

  /**
   * Starts connecting and returns at once: a node must come up even while NATS is down. Use
   * `whenConnected` to wait for the connection.
   */
  async start(_options?: { signal?: AbortSignal }): Promise<void> {
    if (this.stopped) throw new NotStartedError('nats bridge (stopped bridges do not restart)');
    if (this.started) return;
    this.started = true;
    this.link.start();
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.floor(this.heartbeatMs / 2)));
    this.sweeper.unref();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.sweeper) clearInterval(this.sweeper);
    await Promise.all([...this.engines.values()].map((engine) => this.detachEngine(engine, 'stopped')));
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    await this.link.stop();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  // --- NATS -----------------------------------------------------------------------------------

  private subscribe(connection: NatsConnection): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.subscriptions = [
      connection.subscribe(this.subjects.attach, {
        callback: (error, msg) => {
          if (!error) this.onAnnounce(msg);
        },
      }),
      connection.subscribe(this.subjects.out, {
        callback: (error, msg) => {
          if (!error) this.onOut(msg);
        },
      }),
    ];
  }

  private noteLinkEvent(event: LinkEvent): void {
    if (event.type === 'reconnected') this.counters.reconnects++;
    if (event.type === 'slow-consumer') this.counters.slowConsumers++;
    this.events.emit(event);
  }

  /** Publishes unless NATS is down: the client would otherwise buffer without bound during an outage. */
  private publish(subject: string, bytes: Uint8Array, name: string): boolean {
    const connection = this.link.connection;
    if (!this.link.isUp || connection === undefined) {
      this.noteDrop('disconnected', name);
      return false;
    }
    try {
      connection.publish(subject, bytes);
      this.counters.toProcesses++;
      return true;
    } catch (error) {
      this.logger.warn({ err: error, engine: name }, 'publish to NATS failed');
      this.noteDrop('publish-failed', name);
      return false;
    }
  }

  private noteDrop(
    reason: 'expired' | 'unencodable' | 'publish-failed' | 'disconnected',
    name: string,
  ): void {
    if (reason === 'publish-failed') this.counters.dropped.publishFailed++;
    else this.counters.dropped[reason]++;
    this.events.emit({ type: 'dropped', reason, name });
  }

  // --- attaching --------------------------------------------------------------------------------

  private isTrusted(name: string, publicKey: Uint8Array): boolean {
    if (this.trusted.get(name)?.has(base32Encode(publicKey))) return true;
    return this.options.authorize?.(name, publicKey) ?? false;
  }

  private onAnnounce(msg: Msg): void {
    let a: Announcement;
    try {
      a = decodeAnnouncement(msg.data);
    } catch (error) {
      // Nothing to sign a reply for: the sender learns by its own timeout.
      this.logger.debug({ err: error }, 'malformed announcement');
      this.counters.refused.malformed++;
      this.events.emit({ type: 'refused', name: '', reason: 'malformed' });
      return;
    }
    const refusal = this.checkAnnouncement(a);
    if (refusal !== undefined) {
      this.counters.refused[refusal]++;
      this.events.emit({ type: 'refused', name: a.name, reason: refusal });
      this.logger.warn({ engine: a.name, reason: refusal }, 'attach refused');
      // Signatures and replays get no reply: a forger learns nothing, and a replay is not answered twice.
      if (refusal !== 'bad-signature' && refusal !== 'replayed') this.answer(msg, a, refusal);
      return;
    }
    if (a.kind === 'detach') {
      const engine = this.engines.get(a.name);
      if (engine?.instances.get(a.instance)?.publicKey) this.removeInstance(engine, a.instance, 'left');
    }
    this.answer(msg, a, undefined);
  }

  /** Verifies an announcement and, for an attach, records it. Returns why it is refused, if it is. */
  private checkAnnouncement(a: Announcement): AttachRefusal | undefined {
    const now = Date.now();
    if (Math.abs(now - a.timestamp) > this.maxSkewMs) return 'stale';
    if (!verifyAnnouncement(this.node, a)) return 'bad-signature';
    if (!this.isTrusted(a.name, a.publicKey)) return 'untrusted-key';
    const nonce = this.nonces.add(a.nonce, now);
    if (nonce === 'replayed') return 'replayed';
    if (nonce === 'full') return 'over-capacity';
    if (a.kind === 'detach') return undefined;
    let engine = this.engines.get(a.name);
    if (engine === undefined) {
      if (this.router.engine(a.name) !== undefined) return 'name-taken';
      if (this.engines.size >= (this.options.maxEngines ?? 1024)) return 'over-capacity';
      engine = this.attachEngine(a.name);
    }
    const known = engine.instances.get(a.instance);
    if (known !== undefined && Buffer.compare(known.publicKey, a.publicKey) !== 0) return 'name-taken';
    if (known === undefined) {
      if (engine.instances.size >= (this.options.maxInstancesPerEngine ?? 64)) return 'over-capacity';
      engine.instances.set(a.instance, {
        id: a.instance,
        publicKey: a.publicKey,
        lastSeen: now,
        topics: a.topics,
        outIds: new SequenceWindow(),
      });
      this.counters.attaches++;
      this.events.emit({ type: 'attached', name: a.name, instance: a.instance });
      this.logger.info({ engine: a.name, instance: a.instance }, 'process attached');
    } else {
      known.lastSeen = now;
      known.topics = a.topics;
    }
    this.syncTopics(engine);
    return undefined;
  }

  private answer(msg: Msg, a: Announcement, refusal: AttachRefusal | undefined): void {
    if (!msg.reply || !this.link.isUp) return;
    const reply = signAttachReply(
      this.key,
      { node: this.node, name: a.name, instance: a.instance, nonce: a.nonce },
      {
        ok: refusal === undefined,
        session: this.session,
        heartbeatMs: this.heartbeatMs,
        code: refusal ?? '',
        reason: refusal === undefined ? '' : `refused: ${refusal}`,
      },
    );
    msg.respond(reply);
  }

  private attachEngine(name: string): AttachedEngine {
    const detached = new AbortController();
    const subject = this.subjects.engine(name);
    const address = { node: this.node, name };
    // The proxy's handler carries the router's messages to the processes, one at a time.
    const proxy = this.router.client(name, (message) => this.forward(engine, message), {
      mailboxSize: this.options.mailboxSize ?? 1024,
      mailboxPolicy: 'reject',
    });
    const engine: AttachedEngine = {
      name,
      address,
      subject,
      proxy,
      instances: new Map(),
      topics: new Set(),
      detached,
    };
    this.engines.set(name, engine);
    return engine;
  }

  private removeInstance(engine: AttachedEngine, instance: string, reason: 'left' | 'timeout'): void {
    if (!engine.instances.delete(instance)) return;
    this.counters.detaches++;
    this.events.emit({ type: 'detached', name: engine.name, instance, reason });
    this.logger.info({ engine: engine.name, instance, reason }, 'process detached');
    if (engine.instances.size === 0) void this.detachEngine(engine, reason);
    else this.syncTopics(engine);
  }

  /** The last process left: the name disappears from the router, so requests to it fail at once. */
  private async detachEngine(engine: AttachedEngine, reason: 'left' | 'timeout' | 'stopped'): Promise<void> {
    if (this.engines.get(engine.name) !== engine) return;
    this.engines.delete(engine.name);
    engine.detached.abort();
    if (reason === 'stopped') {
      for (const instance of engine.instances.keys()) {
        this.events.emit({ type: 'detached', name: engine.name, instance, reason });
      }
    }
    await engine.proxy.stop();
  }

  /** The proxy subscribes to the union of its processes' topics. */
  private syncTopics(engine: AttachedEngine): void {
    const wanted = new Set<TopicId>();
    for (const instance of engine.instances.values()) for (const topic of instance.topics) wanted.add(topic);
    for (const topic of engine.topics) {
      if (!wanted.has(topic)) {
        engine.proxy.unsubscribe(topic);
        engine.topics.delete(topic);
      }
    }
    for (const topic of wanted) {
      if (!engine.topics.has(topic)) {
        engine.proxy.subscribe(topic);
        engine.topics.add(topic);
      }
    }
  }

  /** Detaches processes that stopped announcing themselves, unless the bridge itself was cut off. */
  private sweep(): void {
    if (!this.link.isUp) return;
    const now = Date.now();
    if (now - this.upSince < this.detachAfterMs) return;
    for (const engine of [...this.engines.values()]) {
      for (const instance of [...engine.instances.values()]) {
        if (now - instance.lastSeen > this.detachAfterMs) this.removeInstance(engine, instance.id, 'timeout');
      }
    }
  }

  // --- router → processes -----------------------------------------------------------------------

  /**
   * Publishes one message to the engine's queue group. While NATS is down it waits, holding up the
   * proxy's bounded mailbox, until NATS is back, the message expires, or the engine is detached.
   */
  private async forward(engine: AttachedEngine, message: EngineMessage): Promise<void> {
    if (!this.link.isUp) {
      const signals = [engine.detached.signal];
      if (message.expiry !== undefined)
        signals.push(AbortSignal.timeout(Math.max(0, message.expiry - Date.now())));
      try {
        await this.link.whenUp(AbortSignal.any(signals));
      } catch {
        // Expired or detached while waiting; counted below or by the router.
      }
    }
    if (engine.detached.signal.aborted) return;
    if (isExpired(message)) {
      this.noteDrop('expired', engine.name);
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = sealDelivery(this.key, engine.address, {
        session: this.session,
        seq: this.seq++,
        instance: undefined,
        requestId: undefined,
        error: undefined,
        id: message.id,
        src: message.src,
        topic: isTopicAddress(message.dst) ? message.dst.topic : undefined,
        replyTo: message.replyTo,
        expiry: message.expiry,
        protocol: message.protocol,
        body: message.body,
      });
    } catch (error) {
      this.logger.warn({ err: error, engine: engine.name }, 'message body cannot be encoded');
      this.noteDrop('unencodable', engine.name);
      return;
    }
    this.publish(engine.subject, bytes, engine.name);
  }

  // --- processes → router -------------------------------------------------------------------------

  private reject(reason: OutRejection, name?: string): void {
    this.counters.rejected[reason]++;
    this.events.emit({ type: 'rejected', reason, name });
  }

  private onOut(msg: Msg): void {
    let decoded: { message: OutMessage; sig: Uint8Array };
    try {
      decoded = decodeOut(msg.data);
    } catch (error) {
      this.logger.debug({ err: error }, 'malformed message from a process');
      this.reject('malformed');
      return;
    }
    const { message: m, sig } = decoded;
    const engine = this.engines.get(m.name);
    const instance = engine?.instances.get(m.instance);
    if (engine === undefined || instance === undefined) {
      this.reject('not-attached', m.name);
      return;
    }
    if (!verifyOut(this.node, instance.publicKey, m, sig)) {
      this.reject('bad-signature', m.name);
      return;
    }
    if (!instance.outIds.accept(m.id)) {
      this.reject('replayed', m.name);
      return;
    }
    instance.lastSeen = Date.now();
    this.counters.fromProcesses++;
    const options = { expiry: m.expiry, protocol: m.protocol };
    try {
      switch (m.kind) {
        case 'send':
          engine.proxy.send(m.dst as EngineAddress, m.body, options);
          return;
        case 'reply':
          if (m.replyTo === undefined) {
            this.reject('malformed', m.name);
            return;
          }
          engine.proxy.reply({ src: m.dst, id: m.replyTo } as EngineMessage, m.body, options);
          return;
        case 'publish':
          engine.proxy.publish((m.dst as { topic: TopicId }).topic, m.body, options);
          return;
        case 'request':
          this.request(engine, m, msg);
          return;
      }
    } catch (error) {
      this.logger.debug({ err: error, engine: m.name }, 'router refused a message from a process');
      this.reject('refused-by-router', m.name);
    }
  }

  /** A process's request is the proxy's request; the result goes back to the process's inbox. */
  private request(engine: AttachedEngine, m: OutMessage, msg: Msg): void {
    if (!msg.reply) {
      this.reject('malformed', m.name);
      return;
    }
    const respond = (reply: EngineMessage | undefined, error: unknown) => {
      const connection = this.link.connection;
      const seal = (reply: EngineMessage | undefined, error: unknown) =>
        sealDelivery(this.key, engine.address, {
          session: this.session,
          seq: this.seq++,
          instance: m.instance,
          requestId: m.id,
          error: error === undefined ? undefined : errorToWire(error),
          id: reply?.id ?? 0,
          src: reply?.src ?? (m.dst as EngineAddress),
          topic: undefined,
          replyTo: reply?.replyTo,
          expiry: reply?.expiry,
          protocol: reply?.protocol ?? m.protocol,
          body: reply?.body ?? null,
        });
      let bytes = seal(reply, error);
      // A reply too large for NATS becomes an error the process can act on, not a silent timeout.
      const max = connection ? maxPayload(connection) : Number.POSITIVE_INFINITY;
      if (bytes.length > max) bytes = seal(undefined, new FrameTooLargeError(bytes.length, max));
      this.publish(msg.reply as string, bytes, engine.name);
    };
    if (this.pendingRequests >= (this.options.maxPendingRequests ?? 4096)) {
      respond(undefined, new QueueFullError('bridge requests', this.options.maxPendingRequests ?? 4096));
      return;
    }
    this.pendingRequests++;
    engine.proxy
      .request(m.dst as EngineAddress, m.body, {
        timeoutMs: m.timeoutMs,
        protocol: m.protocol,
        expiry: m.expiry,
      })
      .then(
        (reply) => respond(reply, undefined),
        (error: unknown) => respond(undefined, error),
      )
      .catch((error: unknown) => {
        this.logger.warn({ err: error, engine: engine.name }, 'reply to a process could not be encoded');
        this.noteDrop('unencodable', engine.name);
      })
      .finally(() => {
        this.pendingRequests--;
      });
  }
}
