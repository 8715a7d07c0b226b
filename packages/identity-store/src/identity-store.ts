import {
  AbortedError,
  type DomainAdvert,
  type DomainId,
  type EngineAddress,
  type EngineAdvert,
  type Logger,
  MAX_CLOCK_SKEW_MS,
  type NodeAdvert,
  type NodeDirectory,
  type NodeId,
  NotStartedError,
  noopLogger,
  PeerDeniedError,
  parseNodeAdvert,
  SchemaError,
  StaleAdvertError,
  type Startable,
  type TopicAdvert,
  type TopicId,
  TRUST_BANNED,
  type VerifyOptions,
  verifyDomainAdvert,
  verifyEngineAdvert,
  verifyNodeAdvert,
  verifyTopicAdvert,
} from '@netmachine/core';
import type { IdentityBackend } from './backend.js';
import {
  bufferedChanges,
  ChangeFanout,
  type ChangeListener,
  type ChangesOptions,
  type IdentityChange,
  type NodeChangeCause,
} from './changes.js';
import { type AdvertKind, Counters, type IdentityStoreCounters, rejectReasonOf } from './counters.js';
import { DirectoryFullError } from './errors.js';
import { MeasurementFlusher } from './measurements.js';
import {
  decodeRecord,
  decodeTransportPrefs,
  domainKey,
  encodeDomainAdvert,
  encodeEngineAdvert,
  encodeLocalState,
  encodeNodeAdvert,
  encodeTopicAdvert,
  engineKey,
  localKey,
  nodeKey,
  topicKey,
} from './persisted.js';
import {
  buildNodeRecord,
  type LocalNodeState,
  localStateOf,
  type NodeRecord,
  REPUTATION_MAX,
  REPUTATION_MIN,
  smoothRtt,
  TRUST_MAX,
} from './records.js';

export interface IdentityStoreLimits {
  nodes?: number;
  engines?: number;
  topics?: number;
  domains?: number;
}

export interface IdentityStoreOptions {
  backend: IdentityBackend;
  logger?: Logger;
  /** Current time in ms (default Date.now); used to refuse adverts from the future. */
  clock?: () => number;
  maxClockSkewMs?: number;
  /** Maximum records per kind (default 100,000 each); a new identity beyond it is refused. */
  limits?: IdentityStoreLimits;
  /** How often RTT measurements are written to the backend (default 10 s). */
  measurementFlushMs?: number;
}

export interface OfferOptions {
  signal?: AbortSignal;
  /** Throw StaleAdvertError instead of resolving false when the advert is not newer. */
  rejectStale?: boolean;
}

export interface WriteOptions {
  signal?: AbortSignal;
}

export interface LoadAdvertsResult {
  /** Nodes whose advert was stored. */
  readonly stored: readonly NodeId[];
  /** Nodes whose configured advert was not newer than the one already known. */
  readonly unchanged: readonly NodeId[];
}

const DEFAULT_LIMIT = 100_000;
const LIMIT_OF = { node: 'nodes', engine: 'engines', topic: 'topics', domain: 'domains' } as const;
/** RTT samples above this are measurement errors, not networks. */
const MAX_RTT_SAMPLE_MS = 10 * 60_000;

function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError(signal.reason);
}

/**
 * The Network Identity Store: nodes, engines, topics and domains, with trust and measurements.
 *
 * Every record lives in memory, so lookups are synchronous and cheap on the router's hot path; every
 * change goes to a durable backend, and an update's promise resolves only once it is durable. Adverts
 * are stored only when signed by the identity they advertise and newer than the known version.
 */
export class IdentityStore implements NodeDirectory, Startable {
  readonly #backend: IdentityBackend;
  readonly #logger: Logger;
  readonly #clock: () => number;
  readonly #maxClockSkewMs: number;
  readonly #limits: Required<IdentityStoreLimits>;
  readonly #counters = new Counters();
  readonly #fanout: ChangeFanout;
  readonly #measurements: MeasurementFlusher;

  readonly #nodes = new Map<NodeId, NodeRecord>();
  readonly #engines = new Map<string, EngineAdvert>();
  readonly #topics = new Map<TopicId, TopicAdvert>();
  readonly #domains = new Map<DomainId, DomainAdvert>();
  /** Highest advert version whose write is in flight, per key: orders concurrent offers. */
  readonly #inflight = new Map<string, number>();
  readonly #pendingWrites = new Set<Promise<unknown>>();

  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: IdentityStoreOptions) {
    this.#backend = options.backend;
    this.#logger = options.logger ?? noopLogger;
    this.#clock = options.clock ?? Date.now;
    this.#maxClockSkewMs = options.maxClockSkewMs ?? MAX_CLOCK_SKEW_MS;
    this.#limits = {
      nodes: options.limits?.nodes ?? DEFAULT_LIMIT,
      engines: options.limits?.engines ?? DEFAULT_LIMIT,
      topics: options.limits?.topics ?? DEFAULT_LIMIT,
      domains: options.limits?.domains ?? DEFAULT_LIMIT,
    };
    this.#fanout = new ChangeFanout(this.#logger, () => this.#counters.bump('listenerErrors'));
    this.#measurements = new MeasurementFlusher({
      intervalMs: options.measurementFlushMs ?? 10_000,
      write: (id) => this.#writeLocal(id),
      logger: this.#logger,
    });
  }

  // --- lifecycle ------------------------------------------------------------

  /** Loads every record from the backend, re-verifying each. Idempotent. */
  start(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#state === 'running') return Promise.resolve();
    if (this.#state === 'stopping' || this.#state === 'stopped') {
      return Promise.reject(new NotStartedError('identity store (stopped)'));
    }
    this.#starting ??= this.#load(options.signal).then(
      () => {
        this.#state = 'running';
      },
      (error: unknown) => {
        this.#state = 'new';
        this.#starting = undefined;
        throw error;
      },
    );
    this.#state = 'starting';
    return this.#starting;
  }

  /** Writes pending measurements, waits for writes in flight, closes the backend. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#starting?.catch(() => {});
      this.#state = 'stopping';
      await this.#measurements.stop();
      await Promise.allSettled([...this.#pendingWrites]);
      await this.#backend.close();
      this.#state = 'stopped';
    })();
    return this.#stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  get running(): boolean {
    return this.#state === 'running';
  }

  async #load(signal: AbortSignal | undefined): Promise<void> {
    checkSignal(signal);
    const verify = this.#verifyOptions();
    for await (const [key, bytes] of this.#backend.entries()) {
      checkSignal(signal);
      let record: ReturnType<typeof decodeRecord>;
      try {
        record = decodeRecord(key, bytes, verify);
      } catch (error) {
        this.#counters.bump('loadSkipped');
        this.#logger.warn(
          { err: error, key: key.slice(0, 120) },
          'identity-store skipped an unreadable record',
        );
        continue;
      }
      this.#counters.bump('loaded');
      switch (record.kind) {
        case 'node': {
          const id = record.advert.id;
          this.#nodes.set(id, buildNodeRecord(id, record.advert, localStateOf(this.#nodes.get(id))));
          break;
        }
        case 'local':
          this.#nodes.set(
            record.id,
            buildNodeRecord(record.id, this.#nodes.get(record.id)?.advert, record.state),
          );
          break;
        case 'engine':
          this.#engines.set(engineMapKey(record.advert.node, record.advert.name), record.advert);
          break;
        case 'topic':
          this.#topics.set(record.advert.id, record.advert);
          break;
        case 'domain':
          this.#domains.set(record.advert.id, record.advert);
          break;
      }
    }
  }

  #assertRunning(): void {
    if (this.#state !== 'running') throw new NotStartedError('identity store');
  }

  #verifyOptions(): VerifyOptions {
    return { now: this.#clock(), maxClockSkewMs: this.#maxClockSkewMs };
  }

  // --- lookups (synchronous, from memory) ------------------------------------

  node(id: NodeId): NodeRecord | undefined {
    return this.#nodes.get(id);
  }

  nodes(): IterableIterator<NodeRecord> {
    return this.#nodes.values();
  }

  /** Trust in a node: its stored value, or the default (128) for a node never seen. */
  trust(id: NodeId): number {
    return this.#nodes.get(id)?.trust ?? localStateOf(undefined).trust;
  }

  isBanned(id: NodeId): boolean {
    return this.#nodes.get(id)?.trust === TRUST_BANNED;
  }

  engine(address: EngineAddress): EngineAdvert | undefined {
    return this.#engines.get(engineMapKey(address.node, address.name));
  }

  /** Known engine adverts, all or those of one node. */
  engines(node?: NodeId): EngineAdvert[] {
    const all = [...this.#engines.values()];
    return node === undefined ? all : all.filter((a) => a.node === node);
  }

  topic(id: TopicId): TopicAdvert | undefined {
    return this.#topics.get(id);
  }

  topics(): IterableIterator<TopicAdvert> {
    return this.#topics.values();
  }

  domain(id: DomainId): DomainAdvert | undefined {
    return this.#domains.get(id);
  }

  domains(): IterableIterator<DomainAdvert> {
    return this.#domains.values();
  }

  counters(): IdentityStoreCounters {
    return this.#counters.snapshot();
  }

  // --- change notifications ---------------------------------------------------

  /** Calls `listener` synchronously after each change; returns the function that unsubscribes. */
  onChange(listener: ChangeListener): () => void {
    return this.#fanout.add(listener);
  }

  /** The changes from now on, as an async iterable with a bounded buffer (see ChangesOptions). */
  changes(options: ChangesOptions = {}): AsyncIterableIterator<IdentityChange> {
    return bufferedChanges(
      (l) => this.#fanout.add(l),
      options,
      () => this.#counters.bump('changesDropped'),
    );
  }

  // --- adverts ------------------------------------------------------------------

  /**
   * Offers a node advert (from the network or configuration). Resolves true once stored durably,
   * false when not newer than the known version; rejects with InvalidSignatureError,
   * AdvertFromFutureError, PeerDeniedError (the node is banned) or DirectoryFullError.
   */
  offerNodeAdvert(advert: NodeAdvert, options: OfferOptions = {}): Promise<boolean> {
    return this.#offer('node', advert, options, {
      key: () => nodeKey(advert.id),
      verify: () => verifyNodeAdvert(advert, this.#verifyOptions()),
      banned: () => (this.isBanned(advert.id) ? advert.id : undefined),
      known: () => this.#nodes.get(advert.id)?.advert?.version,
      isNew: () => !this.#nodes.has(advert.id),
      count: () => this.#nodes.size,
      encode: () => encodeNodeAdvert(advert),
      apply: () => {
        const record = buildNodeRecord(advert.id, advert, localStateOf(this.#nodes.get(advert.id)));
        this.#nodes.set(advert.id, record);
        this.#fanout.emit({ kind: 'node', id: advert.id, cause: 'advert', record });
      },
    });
  }

  /** Offers an engine advert, signed by the engine's node; same rules as offerNodeAdvert. */
  offerEngineAdvert(advert: EngineAdvert, options: OfferOptions = {}): Promise<boolean> {
    const mapKey = engineMapKey(advert.node, advert.name);
    return this.#offer('engine', advert, options, {
      key: () => engineKey(advert.node, advert.name),
      verify: () => verifyEngineAdvert(advert, this.#verifyOptions()),
      banned: () => (this.isBanned(advert.node) ? advert.node : undefined),
      known: () => this.#engines.get(mapKey)?.version,
      isNew: () => !this.#engines.has(mapKey),
      count: () => this.#engines.size,
      encode: () => encodeEngineAdvert(advert),
      apply: () => {
        this.#engines.set(mapKey, advert);
        this.#fanout.emit({ kind: 'engine', advert });
      },
    });
  }

  /** Offers a topic advert, signed by the topic key; same rules as offerNodeAdvert. */
  offerTopicAdvert(advert: TopicAdvert, options: OfferOptions = {}): Promise<boolean> {
    return this.#offer('topic', advert, options, {
      key: () => topicKey(advert.id),
      verify: () => verifyTopicAdvert(advert, this.#verifyOptions()),
      banned: () => undefined,
      known: () => this.#topics.get(advert.id)?.version,
      isNew: () => !this.#topics.has(advert.id),
      count: () => this.#topics.size,
      encode: () => encodeTopicAdvert(advert),
      apply: () => {
        this.#topics.set(advert.id, advert);
        this.#fanout.emit({ kind: 'topic', id: advert.id, advert });
      },
    });
  }

  /** Offers a domain advert, signed by the domain key; same rules as offerNodeAdvert. */
  offerDomainAdvert(advert: DomainAdvert, options: OfferOptions = {}): Promise<boolean> {
    return this.#offer('domain', advert, options, {
      key: () => domainKey(advert.id),
      verify: () => verifyDomainAdvert(advert, this.#verifyOptions()),
      banned: () => undefined,
      known: () => this.#domains.get(advert.id)?.version,
      isNew: () => !this.#domains.has(advert.id),
      count: () => this.#domains.size,
      encode: () => encodeDomainAdvert(advert),
      apply: () => {
        this.#domains.set(advert.id, advert);
        this.#fanout.emit({ kind: 'domain', id: advert.id, advert });
      },
    });
  }

  async #offer(
    kind: AdvertKind,
    advert: { readonly version: number },
    options: OfferOptions,
    ops: {
      key(): string;
      verify(): void;
      /** The banned node behind the advert, if any. */
      banned(): NodeId | undefined;
      known(): number | undefined;
      isNew(): boolean;
      count(): number;
      encode(): Uint8Array;
      apply(): void;
    },
  ): Promise<boolean> {
    this.#assertRunning();
    checkSignal(options.signal);
    let key: string;
    try {
      key = ops.key();
      ops.verify();
      const banned = ops.banned();
      if (banned !== undefined) throw new PeerDeniedError(banned, 'banned (trust 0)');
      const inflight = this.#inflight.get(key);
      const known = Math.max(ops.known() ?? -1, inflight ?? -1);
      if (advert.version <= known) {
        if (options.rejectStale) throw new StaleAdvertError(kind, advert.version, known);
        this.#counters.rejected('stale');
        return false;
      }
      const limit = this.#limits[LIMIT_OF[kind]];
      if (ops.isNew() && inflight === undefined && ops.count() >= limit) {
        throw new DirectoryFullError(kind, limit);
      }
    } catch (error) {
      this.#counters.rejected(rejectReasonOf(error));
      this.#logger.debug({ err: error, kind }, 'identity-store refused an advert');
      throw error;
    }
    this.#inflight.set(key, advert.version);
    try {
      await this.#write(key, ops.encode());
    } finally {
      if (this.#inflight.get(key) === advert.version) this.#inflight.delete(key);
    }
    // Writes reach the backend in call order, so a newer advert applied meanwhile is also the one on disk.
    if ((ops.known() ?? -1) < advert.version) ops.apply();
    this.#counters.accepted(kind);
    return true;
  }

  /**
   * Loads node adverts in their text form (`nmadvert1.…`), e.g. from configuration. All texts are
   * parsed and verified first: one bad text throws its typed error and nothing is stored.
   */
  async loadAdverts(texts: readonly string[], options: WriteOptions = {}): Promise<LoadAdvertsResult> {
    this.#assertRunning();
    const adverts = texts.map((text, index) => {
      try {
        return parseNodeAdvert(text, this.#verifyOptions());
      } catch (error) {
        this.#counters.rejected(rejectReasonOf(error));
        this.#logger.warn({ err: error, index }, 'identity-store refused a configured node advert');
        throw error;
      }
    });
    const stored: NodeId[] = [];
    const unchanged: NodeId[] = [];
    for (const advert of adverts) {
      const offered = this.offerNodeAdvert(advert, options);
      ((await offered) ? stored : unchanged).push(advert.id);
    }
    return { stored, unchanged };
  }

  // --- local state: trust, reputation, transport preferences, measurements ---------

  /** Sets trust (0 = banned … 255). Takes effect at once; resolves when durable. */
  setTrust(id: NodeId, trust: number, options: WriteOptions = {}): Promise<void> {
    if (!Number.isInteger(trust) || trust < 0 || trust > TRUST_MAX) {
      return Promise.reject(new SchemaError('trust', `expected an integer in 0..${TRUST_MAX}, got ${trust}`));
    }
    return this.#updateLocal(id, 'trust', (s) => ({ ...s, trust }), options);
  }

  /** Sets reputation (-1000 … 1000). */
  setReputation(id: NodeId, reputation: number, options: WriteOptions = {}): Promise<void> {
    if (!Number.isInteger(reputation) || reputation < REPUTATION_MIN || reputation > REPUTATION_MAX) {
      return Promise.reject(
        new SchemaError('reputation', `expected an integer in ${REPUTATION_MIN}..${REPUTATION_MAX}`),
      );
    }
    return this.#updateLocal(id, 'reputation', (s) => ({ ...s, reputation }), options);
  }

  /** Adds `delta` to a node's reputation, clamped to -1000 … 1000. */
  adjustReputation(id: NodeId, delta: number, options: WriteOptions = {}): Promise<void> {
    if (!Number.isInteger(delta)) return Promise.reject(new SchemaError('delta', 'expected an integer'));
    const clamp = (n: number) => Math.min(REPUTATION_MAX, Math.max(REPUTATION_MIN, n));
    return this.#updateLocal(
      id,
      'reputation',
      (s) => ({ ...s, reputation: clamp(s.reputation + delta) }),
      options,
    );
  }

  /** Sets the transport protocols to prefer for a node, in order; `undefined` clears them. */
  setTransportPrefs(
    id: NodeId,
    prefs: readonly string[] | undefined,
    options: WriteOptions = {},
  ): Promise<void> {
    let transportPrefs: readonly string[] | undefined;
    try {
      transportPrefs = prefs === undefined ? undefined : decodeTransportPrefs(prefs, 'transportPrefs');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#updateLocal(id, 'transport-prefs', (s) => ({ ...s, transportPrefs }), options);
  }

  /**
   * Folds a round-trip sample (ms) into the node's smoothed RTT. Synchronous and cheap; the estimate
   * is written to the backend in the background (every `measurementFlushMs`, and at stop), so a crash
   * may lose the last interval of measurements — never trust or adverts.
   */
  recordRtt(id: NodeId, rttMs: number): void {
    if (this.#state !== 'running' || !Number.isFinite(rttMs) || rttMs < 0 || rttMs > MAX_RTT_SAMPLE_MS) {
      this.#counters.bump('rttSamplesIgnored');
      return;
    }
    const current = this.#nodes.get(id);
    if (current === undefined && this.#nodes.size >= this.#limits.nodes) {
      this.#counters.bump('rttSamplesIgnored');
      return;
    }
    const local = localStateOf(current);
    this.#nodes.set(id, buildNodeRecord(id, current?.advert, { ...local, rtt: smoothRtt(local.rtt, rttMs) }));
    this.#measurements.markDirty(id);
  }

  /** Writes pending measurements now. */
  async flush(): Promise<void> {
    await this.#measurements.flush();
  }

  async #updateLocal(
    id: NodeId,
    cause: NodeChangeCause,
    change: (state: LocalNodeState) => LocalNodeState,
    options: WriteOptions,
  ): Promise<void> {
    this.#assertRunning();
    checkSignal(options.signal);
    const current = this.#nodes.get(id);
    if (current === undefined && this.#nodes.size >= this.#limits.nodes) {
      throw new DirectoryFullError('node', this.#limits.nodes);
    }
    // Applied to memory first: a ban must take effect at once, not after a disk flush.
    const record = buildNodeRecord(id, current?.advert, change(localStateOf(current)));
    this.#nodes.set(id, record);
    this.#fanout.emit({ kind: 'node', id, cause, record });
    await this.#writeLocal(id);
  }

  async #writeLocal(id: NodeId): Promise<void> {
    const record = this.#nodes.get(id);
    if (record === undefined) return;
    this.#measurements.clean(id);
    try {
      await this.#write(localKey(id), encodeLocalState(localStateOf(record)));
    } catch (error) {
      // Memory is ahead of the disk: retry with the next measurement flush.
      this.#measurements.markDirty(id);
      throw error;
    }
  }

  async #write(key: string, value: Uint8Array): Promise<void> {
    const write = this.#backend.put(key, value);
    this.#pendingWrites.add(write);
    try {
      await write;
    } catch (error) {
      this.#counters.bump('writeErrors');
      this.#logger.error({ err: error, key: key.slice(0, 120) }, 'identity-store write failed');
      throw error;
    } finally {
      this.#pendingWrites.delete(write);
    }
  }
}

function engineMapKey(node: NodeId, name: string): string {
  return `${node}/${name}`;
}
