import {
  AbortedError,
  type DomainAdvert,
  type EngineAdvert,
  isKeyText,
  type Logger,
  MAX_CLOCK_SKEW_MS,
  type NodeAdvert,
  type NodeDirectory,
  type NodeId,
  NotStartedError,
  noopLogger,
  parseNodeAdvert,
  parseNodeId,
  SchemaError,
  type Startable,
  type TopicAdvert,
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
import { type AdvertOps, type OfferContext, offerAdvert } from './offer.js';
import type {
  IdentityStoreLimits,
  IdentityStoreOptions,
  LoadAdvertsResult,
  OfferOptions,
  WriteOptions,
} from './options.js';
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
import { engineMapKey, RecordIndex } from './record-index.js';
import {
  buildNodeRecord,
  checkReputation,
  checkTrust,
  type LocalNodeState,
  localStateOf,
  REPUTATION_MAX,
  REPUTATION_MIN,
  smoothRtt,
} from './records.js';

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
export class IdentityStore extends RecordIndex implements NodeDirectory, Startable {
  readonly #backend: IdentityBackend;
  readonly #logger: Logger;
  readonly #clock: () => number;
  readonly #maxClockSkewMs: number;
  readonly #limits: Required<IdentityStoreLimits>;
  readonly #counters = new Counters();
  readonly #fanout: ChangeFanout;
  readonly #measurements: MeasurementFlusher;

  readonly #offerContext: OfferContext;
  readonly #pendingWrites = new Set<Promise<unknown>>();

  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: IdentityStoreOptions) {
    super();
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
    this.#offerContext = {
      inflight: new Map(),
      counters: this.#counters,
      logger: this.#logger,
      limit: (kind) => this.#limits[LIMIT_OF[kind]],
      write: (key, value) => this.#write(key, value),
    };
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
      this.#fanout.close();
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
      this.applyDecoded(record);
    }
  }

  #assertRunning(): void {
    if (this.#state !== 'running') throw new NotStartedError('identity store');
  }

  #verifyOptions(): VerifyOptions {
    return { now: this.#clock(), maxClockSkewMs: this.#maxClockSkewMs };
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
    const changes = bufferedChanges(this.#fanout, options, () => this.#counters.bump('changesDropped'));
    if (this.#state === 'stopped') this.#fanout.close();
    return changes;
  }

  // --- adverts ------------------------------------------------------------------

  /**
   * Offers a node advert (from the network or configuration). Resolves true once stored durably,
   * false when not newer than the known version; rejects with InvalidSignatureError,
   * AdvertFromFutureError, PeerDeniedError (the node is banned) or DirectoryFullError.
   */
  offerNodeAdvert(advert: NodeAdvert, options: OfferOptions = {}): Promise<boolean> {
    return this.#offer('node', advert.version, options, {
      key: () => nodeKey(advert.id),
      verify: () => verifyNodeAdvert(advert, this.#verifyOptions()),
      banned: () => (this.isBanned(advert.id) ? advert.id : undefined),
      known: () => this.nodeRecords.get(advert.id)?.advert?.version,
      isNew: () => !this.nodeRecords.has(advert.id),
      count: () => this.nodeRecords.size,
      encode: () => encodeNodeAdvert(advert),
      apply: () => {
        const record = buildNodeRecord(advert.id, advert, localStateOf(this.nodeRecords.get(advert.id)));
        this.nodeRecords.set(advert.id, record);
        this.#fanout.emit({ type: 'node:changed', id: advert.id, cause: 'advert', record });
      },
    });
  }

  /** Offers an engine advert, signed by the engine's node; same rules as offerNodeAdvert. */
  offerEngineAdvert(advert: EngineAdvert, options: OfferOptions = {}): Promise<boolean> {
    const mapKey = engineMapKey(advert.node, advert.name);
    return this.#offer('engine', advert.version, options, {
      key: () => engineKey(advert.node, advert.name),
      verify: () => verifyEngineAdvert(advert, this.#verifyOptions()),
      banned: () => (this.isBanned(advert.node) ? advert.node : undefined),
      known: () => this.engineAdverts.get(mapKey)?.version,
      isNew: () => !this.engineAdverts.has(mapKey),
      count: () => this.engineAdverts.size,
      encode: () => encodeEngineAdvert(advert),
      apply: () => {
        this.engineAdverts.set(mapKey, advert);
        this.#fanout.emit({ type: 'engine:advert', advert });
      },
    });
  }

  /** Offers a topic advert, signed by the topic key; same rules as offerNodeAdvert. */
  offerTopicAdvert(advert: TopicAdvert, options: OfferOptions = {}): Promise<boolean> {
    return this.#offer('topic', advert.version, options, {
      key: () => topicKey(advert.id),
      verify: () => verifyTopicAdvert(advert, this.#verifyOptions()),
      banned: () => undefined,
      known: () => this.topicAdverts.get(advert.id)?.version,
      isNew: () => !this.topicAdverts.has(advert.id),
      count: () => this.topicAdverts.size,
      encode: () => encodeTopicAdvert(advert),
      apply: () => {
        this.topicAdverts.set(advert.id, advert);
        this.#fanout.emit({ type: 'topic:advert', id: advert.id, advert });
      },
    });
  }

  /** Offers a domain advert, signed by the domain key; same rules as offerNodeAdvert. */
  offerDomainAdvert(advert: DomainAdvert, options: OfferOptions = {}): Promise<boolean> {
    return this.#offer('domain', advert.version, options, {
      key: () => domainKey(advert.id),
      verify: () => verifyDomainAdvert(advert, this.#verifyOptions()),
      banned: () => undefined,
      known: () => this.domainAdverts.get(advert.id)?.version,
      isNew: () => !this.domainAdverts.has(advert.id),
      count: () => this.domainAdverts.size,
      encode: () => encodeDomainAdvert(advert),
      apply: () => {
        this.domainAdverts.set(advert.id, advert);
        this.#fanout.emit({ type: 'domain:advert', id: advert.id, advert });
      },
    });
  }

  async #offer(kind: AdvertKind, version: number, options: OfferOptions, ops: AdvertOps): Promise<boolean> {
    this.#assertRunning();
    checkSignal(options.signal);
    return offerAdvert(this.#offerContext, kind, version, options, ops);
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
  async setTrust(id: NodeId, trust: number, options: WriteOptions = {}): Promise<void> {
    checkTrust(trust);
    return this.#updateLocal(id, 'trust', (s) => ({ ...s, trust }), options);
  }

  /** Sets reputation (-1000 … 1000). */
  async setReputation(id: NodeId, reputation: number, options: WriteOptions = {}): Promise<void> {
    checkReputation(reputation);
    return this.#updateLocal(id, 'reputation', (s) => ({ ...s, reputation }), options);
  }

  /** Adds `delta` to a node's reputation, clamped to -1000 … 1000. */
  async adjustReputation(id: NodeId, delta: number, options: WriteOptions = {}): Promise<void> {
    if (!Number.isInteger(delta)) throw new SchemaError('delta', 'expected an integer');
    const clamp = (n: number) => Math.min(REPUTATION_MAX, Math.max(REPUTATION_MIN, n));
    return this.#updateLocal(
      id,
      'reputation',
      (s) => ({ ...s, reputation: clamp(s.reputation + delta) }),
      options,
    );
  }

  /** Sets the transport protocols to prefer for a node, in order; `undefined` clears them. */
  async setTransportPrefs(
    id: NodeId,
    prefs: readonly string[] | undefined,
    options: WriteOptions = {},
  ): Promise<void> {
    const transportPrefs = prefs === undefined ? undefined : decodeTransportPrefs(prefs, 'transportPrefs');
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
    const current = this.nodeRecords.get(id);
    if (current === undefined && (this.nodeRecords.size >= this.#limits.nodes || !isKeyText(id))) {
      this.#counters.bump('rttSamplesIgnored');
      return;
    }
    const local = localStateOf(current);
    this.nodeRecords.set(
      id,
      buildNodeRecord(id, current?.advert, { ...local, rtt: smoothRtt(local.rtt, rttMs) }),
    );
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
    const current = this.nodeRecords.get(id);
    if (current === undefined) {
      parseNodeId(id); // throws InvalidIdentityError: never file state under a malformed key
      if (this.nodeRecords.size >= this.#limits.nodes)
        throw new DirectoryFullError('node', this.#limits.nodes);
    }
    // Applied to memory first: a ban must take effect at once, not after a disk flush.
    const record = buildNodeRecord(id, current?.advert, change(localStateOf(current)));
    this.nodeRecords.set(id, record);
    this.#fanout.emit({ type: 'node:changed', id, cause, record });
    await this.#writeLocal(id);
  }

  async #writeLocal(id: NodeId): Promise<void> {
    const record = this.nodeRecords.get(id);
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
