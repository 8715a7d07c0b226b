import {
  type DomainId,
  holdBytes,
  identityBytes,
  type KeyPair,
  keepBytes,
  type Logger,
  type NodeId,
  noopLogger,
  type Startable,
  type TopicId,
} from '@netmachine/core';
import type { PlumTree } from '@netmachine/overlay';
import { BatchSigner, DEFAULT_MAX_BATCH, type SignedBatch } from './batch-signer.js';
import { DeliveredBatch } from './delivered-batch.js';
import type {
  DomainPubSubOptions,
  DomainTopicBatchListener,
  DomainTopicListener,
} from './domain-pubsub-options.js';
import { type DomainTopicAdvert, decodeDomainTopicAdvert, encodeDomainTopicAdvert } from './domain-topic.js';
import {
  createDomainTree,
  type DomainTreeRunner,
  followDomainViews,
  openMemberTrees,
} from './domain-tree.js';
import { NotTopicPublisherError, UnknownDomainTopicError } from './errors.js';
import type { ForwardGate } from './forward-gate.js';
import {
  addBatchListener,
  perEventListener,
  SubscriberCursors,
  type TopicListeners,
  upkeepIntervalMs,
} from './local-subscribers.js';
import { newPublishing, type Publishing, sendHeartbeats } from './publisher-sessions.js';
import { type StreamPosition, StreamReceiver } from './stream-receiver.js';
import { advertFromTree, newTopicAdvert, storeAdvert, type TopicEntry } from './topic-adverts.js';
import { decodeTreeBatch, type TreeBatch, treeBatchId, verifyTreeBatch } from './tree-batch.js';
import {
  type DomainPubSubCounters,
  newTreeCounters,
  penalizeSender,
  type TreeRejectReason,
  treeCountersSnapshot,
} from './tree-counters.js';
import {
  ADVERT_TAG,
  advertId,
  advertPayload,
  keyString,
  parseStreamKey,
  type StreamNames,
  sameBatch,
  streamNamesOf,
} from './tree-ids.js';

/** (topic, publisher) pairs whose names are kept; past it the cache starts again. */
const MAX_NAMES = 4096;

/**
 * Pub/sub within a domain over broadcast trees. One PlumTree machine per domain carries every topic
 * of that domain over the domain's HyParView neighbours: every member forwards, so the tree spans the
 * domain whoever subscribes (a tree per topic over subscribers only could fall apart into pieces).
 * Each event is authenticated end to end by its publisher's batch signature and checked by every
 * node before it forwards or delivers; subscribers deliver each publisher's stream in order, fetch
 * gaps from neighbours' caches, and (with a cursor store) catch up after a restart.
 */
export class DomainPubSub implements Startable {
  readonly node: NodeId;
  readonly #o: DomainPubSubOptions;
  readonly #logger: Logger;
  readonly #runners = new Map<DomainId, DomainTreeRunner>();
  readonly #gates = new Map<DomainId, ForwardGate>();
  /** Topic adverts by the latin1 string of the topic's key bytes. */
  readonly #topics = new Map<string, TopicEntry>();
  /** Local subscribers, each called once per batch (a per-event listener is wrapped). */
  readonly #listeners: TopicListeners = new Map();
  /** Listeners that take batches lent (`{ lend: true }`): they keep nothing past their call. */
  readonly #lending = new WeakSet<DomainTopicBatchListener>();
  /** Holds on the transport buffers of received batches not yet delivered (see `#onDeliver`). */
  readonly #holds = new WeakMap<TreeBatch, () => void>();
  /** When each topic first got a local subscriber. */
  readonly #subscribedAt = new Map<TopicId, number>();
  readonly #publishing = new Map<TopicId, Publishing>();
  readonly #names = new Map<string, StreamNames>();
  readonly #signer: BatchSigner;
  /** This node's key as a latin1 string, as topic entries list publishers. */
  readonly #selfKey: string;
  readonly #receiver: StreamReceiver<TreeBatch>;
  readonly #cursors: SubscriberCursors;
  readonly #counters = newTreeCounters();
  /** The batch `accept` just decoded: the machine delivers it right after, in the same call. */
  #lastAccepted: { id: string; batch: TreeBatch } | undefined;
  #unwire: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #cursorsDirty = false;
  #state: 'new' | 'running' | 'stopped' = 'new';
  #lastEpoch = 0;

  constructor(options: DomainPubSubOptions) {
    this.#o = options;
    this.node = options.keyPair.id;
    this.#logger = (options.logger ?? noopLogger).child({ component: 'pubsub-tree' });
    this.#selfKey = keyString(options.keyPair.publicKey);
    this.#cursors = new SubscriberCursors(options.cursors, this.#logger);
    this.#signer = new BatchSigner({
      key: options.keyPair,
      maxBatch: options.maxBatch ?? DEFAULT_MAX_BATCH,
      ...(options.maxBatchBytes === undefined ? {} : { maxBatchBytes: options.maxBatchBytes }),
      ...(options.lingerMs === undefined ? {} : { lingerMs: options.lingerMs }),
      emit: (batch) => this.#emitBatch(batch),
    });
    this.#receiver = new StreamReceiver<TreeBatch>({
      reorderWindow: options.reorderWindow,
      maxFetch: options.maxFetch,
      gapTimeoutMs: options.gapTimeoutMs,
      deliver: (_stream, batch) => this.#deliverLocal(batch),
      fetch: (stream, epoch, seqs) => this.#fetch(stream, epoch, seqs),
      initial: (stream, batch) => this.#cursors.initial(stream, batch, this.#subscribedAt),
    });
  }

  // --- lifecycle ----------------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.#state !== 'new') return;
    this.#state = 'running';
    await this.#cursors.load();
    const open = (domain: DomainId) => this.#runner(domain);
    this.#unwire = followDomainViews(this.#o.domains, open, (domain) => this.#runners.get(domain));
    await openMemberTrees(this.#o.domains, open);
    this.#timer = setInterval(() => this.#tick(), upkeepIntervalMs(this.#o));
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#state !== 'running') {
      this.#state = 'stopped';
      return;
    }
    this.#signer.flush();
    this.#state = 'stopped';
    this.#unwire?.();
    clearInterval(this.#timer);
    await this.#saveCursors();
    for (const runner of this.#runners.values()) await runner.stop();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  // --- topics -------------------------------------------------------------------------------------

  /**
   * Creates (or, with a higher version, re-issues) a topic in `domain`, signed by `topicKey`, and
   * sends its advert through the domain's tree. `publishers` defaults to this node.
   */
  async createTopic(options: {
    topicKey: KeyPair;
    domain: DomainId;
    publishers?: readonly NodeId[];
    version?: number;
  }): Promise<DomainTopicAdvert> {
    const advert = newTopicAdvert(options, this.node);
    await this.addTopicAdvert(advert);
    const runner = await this.#runner(options.domain);
    runner.command({ type: 'broadcast', id: advertId(advert), payload: advertPayload(advert) });
    return advert;
  }

  /** Stores a verified advert (newer versions replace older). Returns true when stored. */
  async addTopicAdvert(advert: DomainTopicAdvert): Promise<boolean> {
    const stored = this.#storeAdvert(decodeDomainTopicAdvert(encodeDomainTopicAdvert(advert)));
    if (stored) await this.#runner(advert.domain);
    return stored;
  }

  /** Every domain topic advert this node holds. */
  topicAdverts(): DomainTopicAdvert[] {
    return [...this.#topics.values()].map((entry) => entry.advert);
  }

  topicAdvert(topic: TopicId): DomainTopicAdvert | undefined {
    return this.#topics.get(keyString(identityBytes(topic)))?.advert;
  }

  // --- subscribing and publishing ----------------------------------------------------------------

  /** Delivers the topic's events (each publisher's in order, once) to `listener`; returns an unsubscribe. */
  subscribe(topic: TopicId, listener: DomainTopicListener): () => void {
    return this.subscribeBatches(topic, perEventListener(listener, this.#logger));
  }

  /**
   * Like `subscribe`, but `listener` is called once per batch with a view of its events (in order;
   * `forEach` walks them without an object per event): the cheaper way to take a busy topic.
   * With `lend`, the batch and every payload it gives are valid only until `listener` returns (copy
   * what must outlive the call; reading the batch later throws `LentBatchEndedError`): the node then
   * reads the next batches into the same memory instead of fresh buffers, which spares a busy
   * subscriber most of its garbage collection. Without it, payloads stay valid for as long as they are
   * referenced.
   */
  subscribeBatches(
    topic: TopicId,
    listener: DomainTopicBatchListener,
    options: { lend?: boolean } = {},
  ): () => void {
    if (options.lend === true) this.#lending.add(listener);
    return addBatchListener(this.#listeners, this.#subscribedAt, topic, listener);
  }

  /**
   * Publishes on a domain topic this node is authorized for. Events published in one event-loop
   * turn are signed together after it (one signature); `ttlMs` sets an expiry.
   */
  publish(topic: TopicId, payload: Uint8Array, options: { ttlMs?: number } = {}): void {
    // The topic's bytes and key are worked out once per topic, not per event; the advert is looked up
    // every time, as a newer one may have dropped this node from the publishers.
    let state = this.#publishing.get(topic);
    const key = state?.key ?? keyString(identityBytes(topic));
    const entry = this.#topics.get(key);
    if (entry === undefined) throw new UnknownDomainTopicError(topic);
    if (!entry.publishers.has(this.#selfKey)) throw new NotTopicPublisherError(topic);
    if (state === undefined) {
      // A session number that grows across restarts: subscribers see a restart as a new epoch.
      this.#lastEpoch = Math.max(Date.now(), this.#lastEpoch + 1);
      state = newPublishing(topic, key, this.#lastEpoch);
      this.#publishing.set(topic, state);
    }
    state.seq++;
    this.#counters.published++;
    this.#signer.add(state, state.seq, {
      expiry: options.ttlMs === undefined ? 0 : Date.now() + options.ttlMs,
      payload,
    });
  }

  /** Signs and sends what is pending now instead of after this turn. */
  flush(): void {
    this.#signer.flush();
  }

  // --- status ---------------------------------------------------------------------------------------

  counters(): DomainPubSubCounters {
    return treeCountersSnapshot(
      this.#counters,
      this.#signer.batches,
      this.#receiver.counters,
      this.#gates.values(),
    );
  }

  /** The domain's PlumTree machine (for status and tests), once this node runs one. */
  tree(domain: DomainId): PlumTree | undefined {
    return this.#runners.get(domain)?.machine as PlumTree | undefined;
  }

  /** Where each subscribed stream stands: `<topic>/<publisher>` → epoch and last sequence number. */
  positions(): Map<string, StreamPosition> {
    return this.#receiver.positions();
  }

  // --- the tree -------------------------------------------------------------------------------------

  async #runner(domain: DomainId): Promise<DomainTreeRunner> {
    let runner = this.#runners.get(domain);
    if (runner !== undefined) return runner;
    const tree = createDomainTree(domain, this.#o, this.#logger, (id, payload, from) =>
      this.#accept(domain, id, payload, from as NodeId),
    );
    runner = tree.runner;
    if (tree.gate !== undefined) this.#gates.set(domain, tree.gate);
    this.#runners.set(domain, runner);
    runner.on((event) => {
      if (event.type === 'deliver') this.#onDeliver(event.id);
    });
    await runner.start();
    return runner;
  }

  #accept(domain: DomainId, id: string, payload: Uint8Array, from: NodeId): boolean {
    this.#lastAccepted = undefined;
    if (payload[0] === ADVERT_TAG) {
      const advert = advertFromTree(domain, id, payload.subarray(1));
      if (advert === undefined) return this.#reject('bad-advert', from);
      this.#storeAdvert(advert);
      return true;
    }
    let batch: TreeBatch;
    try {
      batch = decodeTreeBatch(payload);
    } catch {
      return this.#reject('malformed', from);
    }
    if (!sameBatch(id, treeBatchId(batch))) return this.#reject('malformed', from);
    const entry = this.#topics.get(batch.bytes.toString('latin1', 1, 33));
    if (entry === undefined) return this.#reject('unknown-topic', from);
    if (entry.advert.domain !== domain) return this.#reject('wrong-domain', from);
    if (!entry.publishers.has(batch.bytes.toString('latin1', 33, 65)))
      return this.#reject('unauthorized', from);
    if (batch.expiry !== 0 && batch.expiry < Date.now()) return this.#reject('expired', from);
    // One signature over the whole batch: checked once here, then the bytes go on unchanged.
    this.#counters.signatureChecks++;
    if (!verifyTreeBatch(batch)) return this.#reject('forged', from);
    this.#counters.batchesAccepted++;
    this.#counters.accepted += batch.count;
    this.#lastAccepted = { id, batch };
    return true;
  }

  #reject(reason: TreeRejectReason, from: NodeId): false {
    this.#counters.rejected[reason]++;
    if (from !== this.node)
      penalizeSender(reason, from, this.#o.trust, this.#o.rejectPenalty ?? 16, this.#logger);
    return false;
  }

  #onDeliver(id: string): void {
    const accepted = this.#lastAccepted;
    this.#lastAccepted = undefined;
    if (accepted === undefined || accepted.id !== id) return; // an advert
    const batch = accepted.batch;
    const names = this.#namesOf(batch);
    if (!this.#listeners.has(names.topic)) return;
    // The batch's bytes may lie in a buffer the transport reuses once the tree is done with it: held
    // until the batch is delivered (it may wait for a gap), or let go at once if it never will be.
    const hold = holdBytes(batch.bytes);
    if (hold !== undefined) this.#holds.set(batch, hold);
    const outcome = this.#receiver.offer(names.stream, batch, Date.now());
    if (hold !== undefined && outcome !== 'held' && outcome !== 'delivered') {
      this.#holds.delete(batch);
      hold();
    }
    this.#cursorsDirty = true;
  }

  #emitBatch(signed: SignedBatch): void {
    const entry = this.#topics.get(keyString(signed.topic));
    if (entry === undefined) return;
    const batch = decodeTreeBatch(signed.bytes);
    const id = treeBatchId(batch);
    const state = this.#publishing.get(entry.advert.topic);
    if (state !== undefined) {
      // The last batch is kept for heartbeats: its pooled buffer is held until the next one replaces it.
      state.last?.release?.();
      state.last = { id, bytes: signed.bytes, release: holdBytes(signed.bytes) };
      state.lastAt = Date.now();
      state.beats = 0;
    }
    this.#runners.get(entry.advert.domain)?.command({ type: 'broadcast', id, payload: signed.bytes });
    this.#deliverLocal(batch);
  }

  /** Hands a batch's events to the topic's listeners, in order; events past their expiry are dropped. */
  #deliverLocal(batch: TreeBatch): void {
    const names = this.#namesOf(batch);
    const topic = names.topic;
    const listeners = this.#listeners.get(topic);
    const hold = this.#holds.get(batch);
    if (hold !== undefined) this.#holds.delete(batch);
    if (listeners === undefined) {
      hold?.();
      return;
    }
    // One view per batch for every listener: no object per event on this path.
    const view = new DeliveredBatch(batch, topic, names.publisher, Date.now());
    this.#receiver.counters.expired += view.expired;
    if (view.count === 0) {
      hold?.();
      return;
    }
    let lent = true;
    for (const listener of listeners) {
      this.#counters.delivered += view.count;
      if (!this.#lending.has(listener)) lent = false;
      try {
        listener(view);
      } catch (error) {
        this.#logger.warn({ err: error, topic }, 'domain topic listener threw');
      }
    }
    // A listener that may keep the payloads keeps the buffer too: it is never reused (the GC frees it).
    if (lent) view.end();
    else keepBytes(batch.bytes);
    hold?.();
  }

  /** Topic and publisher in text form, and the stream key: made once per pair, not per event. */
  #namesOf(batch: TreeBatch): StreamNames {
    const key = batch.bytes.toString('latin1', 1, 65);
    let names = this.#names.get(key);
    if (names === undefined) {
      if (this.#names.size >= MAX_NAMES) this.#names.clear();
      names = streamNamesOf(batch);
      this.#names.set(key, names);
    }
    return names;
  }

  /** Asks the domain's neighbours for the batches numbered `seqs` of a stream's epoch. */
  #fetch(stream: string, epoch: number, seqs: number[]): void {
    const { topic, publisher } = parseStreamKey(stream);
    const entry = this.#topics.get(keyString(topic));
    if (entry === undefined) return;
    const ids = seqs.map((seq) => treeBatchId({ topic, publisher, epoch, seq }));
    this.#runners.get(entry.advert.domain)?.command({ type: 'fetch', ids });
  }

  #storeAdvert(advert: DomainTopicAdvert): boolean {
    if (!storeAdvert(this.#topics, advert, this.#o.maxTopics)) return false;
    this.#counters.advertsAdded++;
    return true;
  }

  #tick(): void {
    const now = Date.now();
    this.#receiver.tick(now);
    const beat = this.#o.heartbeatMs ?? 1000;
    if (beat > 0) {
      sendHeartbeats(this.#publishing, now, beat, (topic) => this.topicAdvert(topic)?.domain, this.#runners);
    }
    if (this.#cursorsDirty) void this.#saveCursors();
  }

  async #saveCursors(): Promise<void> {
    if (!this.#cursors.enabled || !this.#cursorsDirty) return;
    this.#cursorsDirty = false;
    await this.#cursors.save(this.#receiver.positions());
  }
}
