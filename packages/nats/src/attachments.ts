import {
  base32Encode,
  type EngineAddress,
  type EngineContext,
  type EngineMessage,
  type EngineRef,
  type Logger,
  type TopicId,
} from '@netmachine/core';
import type { BridgeEvent, BridgeRouter, NatsBridgeCounters, NatsBridgeOptions } from './bridge-options.js';
import type { AttachRefusal } from './errors.js';
import type { Listeners } from './listeners.js';
import { type Announcement, verifyAnnouncement } from './protocol.js';
import { NonceCache, SequenceWindow } from './replay-guard.js';
import { derivePairKeys, type EphemeralKey, type PairKeys } from './session-keys.js';
import type { Subjects } from './subjects.js';

/** One process attached under an engine name. */
export interface Instance {
  readonly id: string;
  readonly publicKey: Uint8Array;
  /** The process's X25519 key and the keys derived from it for this bridge session. */
  dhKey: Uint8Array;
  keys: PairKeys;
  lastSeen: number;
  topics: readonly TopicId[];
  /** The NATS server it last announced itself from ('' if it did not say). */
  server: string;
  /** Ids of the messages it sent, against replays. */
  readonly outIds: SequenceWindow;
}

/** One engine name attached through NATS: its proxy on the router and the processes behind it. */
export interface ProxiedEngine {
  readonly name: string;
  readonly address: EngineAddress;
  readonly subject: string;
  /** Tags deliveries to the name's queue group; every attached process of the name holds it. */
  readonly groupKey: Buffer;
  readonly proxy: EngineContext & EngineRef;
  readonly instances: Map<string, Instance>;
  readonly topics: Set<TopicId>;
  /** Aborted when the proxy is detached: a delivery waiting for NATS gives up. */
  readonly detached: AbortController;
}

export type DetachReason = 'left' | 'timeout' | 'stopped';

/**
 * Who is attached: checks announcements (freshness, signature, trust, replay), keeps the processes
 * of each name, and spawns or stops the name's proxy engine on the router as the first process
 * arrives and the last one leaves.
 */
export class Attachments {
  private readonly engines = new Map<string, ProxiedEngine>();
  private readonly nonces: NonceCache;
  private readonly trusted = new Map<string, Set<string>>();
  private readonly maxSkewMs: number;

  constructor(
    private readonly options: NatsBridgeOptions,
    private readonly subjects: Subjects,
    private readonly forward: (engine: ProxiedEngine, message: EngineMessage) => Promise<void>,
    private readonly counters: NatsBridgeCounters,
    private readonly events: Listeners<BridgeEvent>,
    private readonly logger: Logger,
    private readonly dh: EphemeralKey,
    private readonly session: string,
    private readonly groupKey: (name: string) => Buffer,
  ) {
    this.maxSkewMs = options.maxClockSkewMs ?? 30_000;
    // A nonce outlives the widest window in which its announcement could still pass the clock check.
    this.nonces = new NonceCache(2 * this.maxSkewMs, 100_000);
    for (const [name, keys] of Object.entries(options.trustedKeys ?? {}))
      this.trusted.set(name, new Set(keys));
  }

  private get router(): BridgeRouter {
    return this.options.router;
  }

  /** The keys this bridge session shares with a process that announced `dhKey`; undefined for an unusable key. */
  private pairKeys(a: Announcement): PairKeys | undefined {
    try {
      return derivePairKeys(this.dh.agree(a.dhKey), {
        node: this.router.node,
        name: a.name,
        instance: a.instance,
        session: this.session,
        processDhKey: a.dhKey,
        bridgeDhKey: this.dh.publicKey,
      });
    } catch {
      return undefined;
    }
  }

  get(name: string): ProxiedEngine | undefined {
    return this.engines.get(name);
  }

  all(): ProxiedEngine[] {
    return [...this.engines.values()];
  }

  private isTrusted(name: string, publicKey: Uint8Array): boolean {
    if (this.trusted.get(name)?.has(base32Encode(publicKey))) return true;
    return this.options.authorize?.(name, publicKey) ?? false;
  }

  /**
   * Verifies an announcement and applies it: an attach adds or refreshes the process (spawning the
   * proxy for a new name), a detach removes it. Returns why it is refused, if it is.
   */
  apply(a: Announcement, now = Date.now()): AttachRefusal | undefined {
    if (Math.abs(now - a.timestamp) > this.maxSkewMs) return 'stale';
    if (!verifyAnnouncement(this.router.node, a)) return 'bad-signature';
    if (!this.isTrusted(a.name, a.publicKey)) return 'untrusted-key';
    const nonce = this.nonces.add(a.nonce, now);
    if (nonce === 'replayed') return 'replayed';
    if (nonce === 'full') return 'over-capacity';
    let engine = this.engines.get(a.name);
    const known = engine?.instances.get(a.instance);
    // An instance is bound to the key it attached with: another key cannot refresh or detach it.
    if (known !== undefined && Buffer.compare(known.publicKey, a.publicKey) !== 0) return 'name-taken';
    if (a.kind === 'detach') {
      if (engine !== undefined && known !== undefined) this.removeInstance(engine, a.instance, 'left');
      return undefined;
    }
    // The X25519 key is agreed once per process and session; a heartbeat repeats it.
    let keys = known?.keys;
    if (known === undefined || Buffer.compare(known.dhKey, a.dhKey) !== 0) {
      keys = this.pairKeys(a);
      if (keys === undefined) return 'malformed';
    }
    if (engine === undefined) {
      if (this.router.engine(a.name) !== undefined) return 'name-taken';
      if (this.engines.size >= (this.options.maxEngines ?? 1024)) return 'over-capacity';
      try {
        engine = this.spawnProxy(a.name);
      } catch (error) {
        // The router is full (its engine limit) or stopping.
        this.logger.warn({ err: error, engine: a.name }, 'cannot spawn the proxy engine');
        return 'over-capacity';
      }
    }
    if (known === undefined) {
      if (engine.instances.size >= (this.options.maxInstancesPerEngine ?? 64)) return 'over-capacity';
      engine.instances.set(a.instance, {
        id: a.instance,
        publicKey: a.publicKey,
        dhKey: a.dhKey,
        keys: keys as PairKeys,
        lastSeen: now,
        topics: a.topics,
        server: a.server ?? '',
        outIds: new SequenceWindow(),
      });
      this.counters.attaches++;
      this.events.emit({ type: 'engine:attached', name: a.name, instance: a.instance });
      this.logger.info({ engine: a.name, instance: a.instance }, 'process attached');
    } else {
      known.lastSeen = now;
      known.dhKey = a.dhKey;
      known.keys = keys as PairKeys;
      known.topics = a.topics;
      known.server = a.server ?? '';
    }
    this.syncTopics(engine);
    return undefined;
  }

  private spawnProxy(name: string): ProxiedEngine {
    // The proxy's handler carries the router's messages to the processes, one at a time.
    const proxy = this.router.client(name, (message) => this.forward(engine, message), {
      mailboxSize: this.options.mailboxSize ?? 1024,
      mailboxPolicy: 'reject',
    });
    const engine: ProxiedEngine = {
      name,
      address: { node: this.router.node, name },
      subject: this.subjects.engine(name),
      groupKey: this.groupKey(name),
      proxy,
      instances: new Map(),
      topics: new Set(),
      detached: new AbortController(),
    };
    this.engines.set(name, engine);
    return engine;
  }

  removeInstance(engine: ProxiedEngine, instance: string, reason: 'left' | 'timeout'): void {
    if (!engine.instances.delete(instance)) return;
    this.counters.detaches++;
    this.events.emit({ type: 'engine:detached', name: engine.name, instance, reason });
    this.logger.info({ engine: engine.name, instance, reason }, 'process detached');
    if (engine.instances.size === 0) void this.detach(engine, reason);
    else this.syncTopics(engine);
  }

  /** The last process left: the name disappears from the router, so requests to it fail at once. */
  async detach(engine: ProxiedEngine, reason: DetachReason): Promise<void> {
    if (this.engines.get(engine.name) !== engine) return;
    this.engines.delete(engine.name);
    engine.detached.abort();
    if (reason === 'stopped') {
      for (const instance of engine.instances.keys()) {
        this.events.emit({ type: 'engine:detached', name: engine.name, instance, reason });
      }
    }
    await engine.proxy.stop();
  }

  async detachAll(): Promise<void> {
    await Promise.all(this.all().map((engine) => this.detach(engine, 'stopped')));
  }

  /** Takes `ms` off every process's silence (a time the bridge could not hear them), up to `now`. */
  excuse(ms: number, now: number): void {
    for (const engine of this.all()) {
      for (const instance of engine.instances.values()) {
        instance.lastSeen = Math.min(now, instance.lastSeen + ms);
      }
    }
  }

  /** Detaches processes not heard from for `timeoutMs`. */
  expire(now: number, timeoutMs: number): void {
    for (const engine of this.all()) {
      for (const instance of [...engine.instances.values()]) {
        if (now - instance.lastSeen > timeoutMs) this.removeInstance(engine, instance.id, 'timeout');
      }
    }
  }

  /** The proxy subscribes to the union of its processes' topics. */
  private syncTopics(engine: ProxiedEngine): void {
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
}
