import { randomBytes } from 'node:crypto';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  assertEngineName,
  type EngineMessage,
  InvalidIdentityError,
  isExpired,
  isKeyText,
  isTopicAddress,
  type KeyPair,
  type Logger,
  type NodeId,
  NotStartedError,
  noopLogger,
  plainBody,
  type Startable,
} from '@netmachine/core';
import { Attachments, type ProxiedEngine } from './attachments.js';
import {
  type BridgeEvent,
  type BridgeRouter,
  type NatsAttachmentStatus,
  type NatsBridgeCounters,
  type NatsBridgeOptions,
  type NatsBridgeStatus,
  newCounters,
} from './bridge-options.js';
import type { AttachRefusal } from './errors.js';
import { FromProcesses } from './from-processes.js';
import { guardedCallback, Listeners } from './listeners.js';
import { type LinkEvent, NatsLink } from './nats-link.js';
import { type Announcement, decodeAnnouncement, sealDelivery, signAttachReply } from './protocol.js';
import { newSessionId } from './replay-guard.js';
import { EphemeralKey, groupKeyFor, wrapGroupKey } from './session-keys.js';
import { Subjects } from './subjects.js';

/**
 * Bridges a node's router to NATS: processes attach engines by name, and each attached name is a
 * proxy engine on the router whose messages are tagged with the name's session key and published
 * to the processes' queue group. What processes send comes back on one subject, is checked, and
 * enters the router as the proxy engine's own traffic. See the README for the subject scheme,
 * the keys and the fault rules.
 */
export class NatsBridge implements Startable {
  readonly #counters: NatsBridgeCounters = newCounters();
  readonly subjects: Subjects;
  readonly session = newSessionId(Date.now(), randomBytes(9).toString('base64url'));
  /** This session's X25519 key: the session keys of every process attached to it derive from it. */
  readonly #dh = new EphemeralKey();
  /** Random per session; the group key of each attached name derives from it. */
  readonly #groupSecret = randomBytes(32);
  private readonly router: BridgeRouter;
  private readonly key: KeyPair;
  private readonly logger: Logger;
  private readonly link: NatsLink;
  private readonly events = new Listeners<BridgeEvent>();
  private readonly attachments: Attachments;
  private readonly heartbeatMs: number;
  private readonly detachAfterMs: number;
  private subscriptions: Subscription[] = [];
  private sweeper: NodeJS.Timeout | undefined;
  /** Liveness is only judged after the bridge itself has been connected for a full timeout. */
  private upSince = 0;
  /** When the sweeper last ran: a sweep far later than its interval means this process was paused. */
  private lastSweep = 0;
  private seq = 0;
  private readonly fromProcesses: FromProcesses;
  private started = false;
  private stopped = false;

  constructor(options: NatsBridgeOptions) {
    this.router = options.router;
    this.key = options.keyPair;
    if (this.key.id !== this.router.node) {
      throw new InvalidIdentityError('the bridge key pair must be the key of the router node');
    }
    this.logger = (options.logger ?? noopLogger).child({ component: 'nats-bridge' });
    this.subjects = new Subjects(this.router.node, options.subjectPrefix);
    this.heartbeatMs = options.heartbeatMs ?? 1000;
    this.detachAfterMs = this.heartbeatMs * (options.missedHeartbeats ?? 3);
    // Checked here so that a typo in the node's config is an error at startup, not a refused attach.
    for (const [name, keys] of Object.entries(options.trustedKeys ?? {})) {
      assertEngineName(name);
      for (const key of keys) {
        if (!isKeyText(key))
          throw new InvalidIdentityError(`trusted key for engine ${name} is not a public key: ${key}`);
      }
    }
    this.attachments = new Attachments(
      options,
      this.subjects,
      (engine, message) => this.forward(engine, message),
      this.#counters,
      this.events,
      this.logger,
      this.#dh,
      this.session,
      (name) => groupKeyFor(this.#groupSecret, name),
    );
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
    this.fromProcesses = new FromProcesses({
      attachments: this.attachments,
      counters: this.#counters,
      events: this.events,
      logger: this.logger,
      link: this.link,
      session: this.session,
      maxPendingRequests: options.maxPendingRequests,
      nextSeq: () => this.seq++,
      publish: (subject, bytes, name) => this.publish(subject, bytes, name),
      noteDrop: (reason, name) => this.noteDrop(reason, name),
    });
  }

  get node(): NodeId {
    return this.router.node;
  }

  get connected(): boolean {
    return this.link.isUp;
  }

  /** A snapshot of the bridge's counters. */
  counters(): NatsBridgeCounters {
    return structuredClone(this.#counters);
  }

  onEvent(listener: (event: BridgeEvent) => void): () => void {
    return this.events.on('*', listener);
  }

  /** Resolves once connected to NATS; rejects with AbortedError on `signal` or stop. */
  whenConnected(signal?: AbortSignal): Promise<void> {
    return this.link.whenUp(signal);
  }

  /** Names attached right now, with their number of processes. */
  status(): NatsBridgeStatus {
    const engines: Record<string, number> = {};
    const attachments: NatsAttachmentStatus[] = [];
    for (const engine of this.attachments.all()) {
      engines[engine.name] = engine.instances.size;
      for (const instance of engine.instances.values())
        attachments.push({ name: engine.name, instance: instance.id, server: instance.server });
    }
    const server = this.link.isUp ? (this.link.connection?.getServer() ?? '') : '';
    return {
      connected: this.link.isUp,
      server,
      engines,
      attachments,
      pendingRequests: this.fromProcesses.pendingRequests,
    };
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
    this.lastSweep = Date.now();
    this.sweeper = setInterval(() => this.sweep(), this.sweepIntervalMs);
    this.sweeper.unref();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.sweeper) clearInterval(this.sweeper);
    await this.attachments.detachAll();
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
        callback: guardedCallback(
          (msg) => this.onAnnounce(msg),
          (error) => this.logger.error({ err: error }, 'announcement handling failed'),
        ),
      }),
      connection.subscribe(this.subjects.out, {
        callback: guardedCallback(
          (msg) => this.fromProcesses.onOut(msg),
          (error) => this.logger.error({ err: error }, 'message from a process failed'),
        ),
      }),
    ];
  }

  private noteLinkEvent(event: LinkEvent): void {
    if (event.type === 'nats:reconnected') this.#counters.reconnects++;
    if (event.type === 'nats:slow-consumer') this.#counters.slowConsumers++;
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
      this.#counters.toProcesses++;
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
    if (reason === 'publish-failed') this.#counters.dropped.publishFailed++;
    else this.#counters.dropped[reason]++;
    this.events.emit({ type: 'message:dropped', reason, name });
  }

  // --- attaching --------------------------------------------------------------------------------

  private onAnnounce(msg: Msg): void {
    let a: Announcement;
    try {
      a = decodeAnnouncement(msg.data);
    } catch (error) {
      // Nothing to sign a reply for: the sender learns by its own timeout.
      this.logger.debug({ err: error }, 'malformed announcement');
      this.#counters.refused.malformed++;
      this.events.emit({ type: 'attach:refused', name: '', reason: 'malformed' });
      return;
    }
    const refusal = this.attachments.apply(a);
    if (refusal !== undefined) {
      this.#counters.refused[refusal]++;
      this.events.emit({ type: 'attach:refused', name: a.name, reason: refusal });
      this.logger.warn({ engine: a.name, reason: refusal }, 'attach refused');
      // Signatures and replays get no reply: a forger learns nothing, and a replay is not answered twice.
      if (refusal !== 'bad-signature' && refusal !== 'replayed') this.answer(msg, a, refusal);
      return;
    }
    this.answer(msg, a, undefined);
  }

  private answer(msg: Msg, a: Announcement, refusal: AttachRefusal | undefined): void {
    if (!msg.reply || !this.link.isUp) return;
    const engine = this.attachments.get(a.name);
    const instance = engine?.instances.get(a.instance);
    // An accepted attach hands the process the name's group key, readable only with its session keys.
    let dhKey: Uint8Array = new Uint8Array(0);
    let groupKey: Uint8Array = new Uint8Array(0);
    if (refusal === undefined && a.kind === 'attach' && engine !== undefined && instance !== undefined) {
      dhKey = this.#dh.publicKey;
      const context = {
        node: this.node,
        name: a.name,
        instance: a.instance,
        session: this.session,
        processDhKey: instance.dhKey,
        bridgeDhKey: dhKey,
      };
      groupKey = wrapGroupKey(instance.keys, context, engine.groupKey);
    }
    const reply = signAttachReply(
      this.key,
      { node: this.node, name: a.name, instance: a.instance, nonce: a.nonce },
      {
        ok: refusal === undefined,
        session: this.session,
        heartbeatMs: this.heartbeatMs,
        code: refusal ?? '',
        reason: refusal === undefined ? '' : `refused: ${refusal}`,
        dhKey,
        groupKey,
      },
    );
    msg.respond(reply);
  }

  private get sweepIntervalMs(): number {
    return Math.max(50, Math.floor(this.heartbeatMs / 2));
  }

  /** Detaches processes that stopped announcing themselves, unless the bridge itself was cut off. */
  private sweep(): void {
    const now = Date.now();
    // A sweep this late means this process did not run meanwhile (a long pause, a starved CPU): the
    // heartbeats that came in the meantime are still unread, since timers run before sockets are read.
    // Silence while the bridge was not listening does not count against a process.
    const paused = now - this.lastSweep - this.sweepIntervalMs;
    this.lastSweep = now;
    if (paused > this.heartbeatMs) this.attachments.excuse(paused, now);
    if (!this.link.isUp) return;
    if (now - this.upSince < this.detachAfterMs) return;
    this.attachments.expire(now, this.detachAfterMs);
  }

  // --- router → processes -----------------------------------------------------------------------

  /**
   * Publishes one message to the engine's queue group. While NATS is down it waits, holding up the
   * proxy's bounded mailbox, until NATS is back, the message expires, or the engine is detached.
   */
  private async forward(engine: ProxiedEngine, message: EngineMessage): Promise<void> {
    if (!this.link.isUp) {
      const signals = [engine.detached.signal];
      if (message.expiry !== undefined)
        signals.push(AbortSignal.timeout(Math.max(0, message.expiry - Date.now())));
      try {
        await this.link.whenUp(AbortSignal.any(signals));
      } catch {
        // Detached (the router counts what is left), or the message's expiry timer ended the wait:
        // expired, even when the wall clock still reads a millisecond short of its expiry (timers
        // run on another clock), so it is never handed to a link that is still down.
        if (!engine.detached.signal.aborted) this.noteDrop('expired', engine.name);
        return;
      }
    }
    if (engine.detached.signal.aborted) return;
    if (isExpired(message)) {
      this.noteDrop('expired', engine.name);
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = sealDelivery(engine.groupKey, {
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
        body: plainBody(message.body),
      });
    } catch (error) {
      this.logger.warn({ err: error, engine: engine.name }, 'message body cannot be encoded');
      this.noteDrop('unencodable', engine.name);
      return;
    }
    this.publish(engine.subject, bytes, engine.name);
  }
}
