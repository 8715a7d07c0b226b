import {
  type AnycastAddress,
  type DomainId,
  type EngineClient,
  type EngineMessage,
  type Logger,
  type NodeAdvert,
  type NodeId,
  noopLogger,
  type RequestOptions,
  type Startable,
  TRUST_DEFAULT,
} from '@netmachine/core';
import { ProtocolRunner, type RunnerCounters } from '@netmachine/overlay';
import {
  type BlipParams,
  blipFilter,
  blipFilterBytes,
  blipSimilarity,
  blipTargetSimilarity,
  bloomFilter,
  DEFAULT_BLIP_PARAMS,
} from '../blip.js';
import {
  type DiscoveryCommand,
  type DiscoveryEvent,
  type DiscoveryNode,
  type DiscoveryTimer,
  discoveryProtocol,
} from '../machines/discovery-node.js';
import type { DiscoveryMessage, PeerEntry } from '../machines/messages.js';
import { CryptoRng } from './crypto-rng.js';
import { entryIssued, signEntry, verifyEntry } from './entries.js';
import { DiscoveryNotReadyError, LookupFailedError, NotParticipatingError } from './errors.js';
import { DiscoveryGate } from './gate.js';
import { Lookups } from './lookups.js';
import type { DiscoveryDomains, DiscoveryServiceOptions, LookupResult } from './options.js';
import { type PsiCounters, PsiExchange } from './psi-exchange.js';
import { AdvertsSideband, advertisingRouter } from './sideband.js';

/** The engine that speaks the discovery protocol (TAPS, TAC, routing) on every participating node. */
export const DISCOVERY_ENGINE = 'discovery';

/** Clock skew allowed on an entry's issue time. */
const ENTRY_SKEW_MS = 60_000;
/** PSI exchanges this node runs at once for TAC, and waiting. */
const PSI_CONCURRENCY = 2;
const PSI_QUEUE = 16;
/** How long an anycast waits for the domain advert that came with a lookup answer. */
const ADVERT_WAIT_MS = 3000;
/** How long a lookup answer waits for the announcement sent just before it. */
const ANNOUNCEMENT_WAIT_MS = 1000;
/** A node with an empty view asks its peers for entries at most this often. */
const BOOTSTRAP_EVERY_MS = 2000;
/** Verified entry signatures remembered (re-verifying every gossip round would cost ~0.1 ms each). */
const VERIFIED_MEMORY = 4096;

export interface DiscoveryServiceCounters {
  readonly participating: boolean;
  readonly domains: number;
  /** Gossip messages refused because an entry in them was not signed by the node it names. */
  readonly forgedMessages: number;
  /** Entries in those messages that failed their signature check. */
  readonly forgedEntries: number;
  readonly adverts: { readonly stored: number; readonly refused: number };
  readonly lookups: { readonly started: number; readonly answered: number; readonly failed: number };
  /** PSI runs for TAC dropped because too many were waiting. */
  readonly psiDropped: number;
  readonly psi: PsiCounters;
  readonly runner: RunnerCounters | undefined;
  readonly machine:
    | (DiscoveryNode['taps']['counters'] & {
        readonly tac: DiscoveryNode['tac']['counters'];
        readonly routing: DiscoveryNode['router']['counters'];
      })
    | undefined;
  /** Times the machines were restarted because this node's domains changed. */
  readonly restarts: number;
}

export interface DiscoveryViews {
  /** The TAPS view. */
  readonly view: readonly NodeId[];
  /** The URPS sample memory. */
  readonly samples: readonly NodeId[];
  /** TAC's cluster: neighbours sharing a domain, with the shared domains. */
  readonly cluster: readonly { readonly node: NodeId; readonly shared: readonly string[] }[];
}

export type DiscoveryServiceEvent =
  | {
      readonly type: 'psi:done';
      readonly peer: NodeId;
      readonly shared: readonly string[];
      readonly role: 'initiator' | 'responder';
    }
  | { readonly type: 'lookup:done'; readonly result: LookupResult }
  | { readonly type: 'entries:forged'; readonly from: NodeId; readonly count: number };

type Runner = ProtocolRunner<DiscoveryMessage, DiscoveryCommand, DiscoveryTimer, DiscoveryEvent>;

/**
 * Inter-domain discovery on a node: TAPS + URPS peer sampling, TAC clustering (BLIP similarity, then
 * PSI with the best candidates over the wire), and greedy lookups of domains, all run by the same
 * sans-IO machines the simulator runs. Sampling entries are signed by the nodes they name and checked
 * on arrival; what is learned (adverts, reputation) goes to the identity store.
 */
export class DiscoveryService implements Startable {
  readonly node: NodeId;
  readonly participating: boolean;
  readonly #o: DiscoveryServiceOptions;
  readonly #logger: Logger;
  readonly #blip: BlipParams;
  readonly #internal: Set<string>;
  readonly #entryTtl: number;
  readonly #psi: PsiExchange;
  readonly #sideband: AdvertsSideband;
  readonly #listeners = new Set<(event: DiscoveryServiceEvent) => void>();
  readonly #lookups = new Lookups((result) => this.#emit({ type: 'lookup:done', result }));
  readonly #verified = new Set<string>();
  readonly #psiQueue: PeerEntry[] = [];
  readonly #counts = {
    forgedMessages: 0,
    forgedEntries: 0,
    psiDropped: 0,
    restarts: 0,
  };
  #psiRunning = 0;
  #lastBootstrap = 0;
  #runner: Runner | undefined;
  #gate: DiscoveryGate | undefined;
  #entry: PeerEntry | undefined;
  #domainKey = '';
  #client: EngineClient | undefined;
  #timer: NodeJS.Timeout | undefined;
  #state: 'new' | 'running' | 'stopped' = 'new';
  #restarting: Promise<void> | undefined;

  constructor(options: DiscoveryServiceOptions) {
    this.#o = { ...options };
    this.node = options.keyPair.id;
    this.participating = options.participate ?? true;
    this.#logger = (options.logger ?? noopLogger).child({ component: 'discovery' });
    this.#blip = options.blip ?? { ...DEFAULT_BLIP_PARAMS };
    this.#internal = new Set(options.internalOnly ?? []);
    this.#entryTtl = options.entryTtlMs ?? 3_600_000;
    this.#psi = new PsiExchange({
      router: options.router,
      localSet: () => this.#participatingDomains(),
      allowed: (peer) => this.participating && this.#trustOf(peer) > 0,
      onIntersection: (peer, shared, role) => this.#learned(peer, shared, role),
      logger: this.#logger,
      ...(options.maxPsiSessions !== undefined ? { maxSessions: options.maxPsiSessions } : {}),
      ...(options.psiPerPeerPerMinute !== undefined ? { perPeerPerMinute: options.psiPerPeerPerMinute } : {}),
      ...(options.maxPsiSetSize !== undefined ? { maxSetSize: options.maxPsiSetSize } : {}),
      ...(options.psiTimeoutMs !== undefined ? { timeoutMs: options.psiTimeoutMs } : {}),
    });
    this.#sideband = new AdvertsSideband({
      router: options.router,
      directory: options.directory,
      self: this.node,
      ownEntry: () => this.#entry,
      localAdvert: () => this.#o.localAdvert?.(),
      logger: this.#logger,
    });
  }

  // --- lifecycle ------------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.#state !== 'new') return;
    this.#state = 'running';
    this.#client = this.#o.router.client(`${DISCOVERY_ENGINE}.client`);
    if (!this.participating) return;
    this.#psi.start();
    this.#sideband.start();
    this.#timer = setInterval(() => this.#tick(), this.#o.tickMs ?? 1000);
    this.#timer.unref();
    await this.#restart();
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    const wasRunning = this.#state === 'running';
    this.#state = 'stopped';
    if (!wasRunning) return;
    clearInterval(this.#timer);
    await this.#restarting;
    this.#lookups.abortAll();
    await this.#runner?.stop();
    await this.#psi.stop();
    await this.#sideband.stop();
    await this.#client?.stop();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Gives the service what a node assembly builds after it: the Transport engine, the domains, the advert. */
  attach(parts: {
    transport?: DiscoveryServiceOptions['transport'];
    domains?: DiscoveryDomains;
    localAdvert?: () => NodeAdvert | undefined;
  }): void {
    if (parts.transport) this.#o.transport = parts.transport;
    if (parts.domains) this.#o.domains = parts.domains;
    if (parts.localAdvert) this.#o.localAdvert = parts.localAdvert;
    if (this.#state === 'running' && this.participating) void this.#restart();
  }

  on(listener: (event: DiscoveryServiceEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // --- what applications call -------------------------------------------------------------------

  /**
   * Finds members of `domain` through the inter-domain overlay: answered from this node's own cluster
   * when it is a member, routed greedily by filter similarity otherwise. Resolves with the members, their
   * adverts (now in the identity store), the domain's advert and the path the lookup took.
   */
  lookup(
    domain: DomainId,
    options: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<LookupResult> {
    if (!this.participating) return Promise.reject(new NotParticipatingError());
    const runner = this.#runner;
    if (runner === undefined || this.#state !== 'running') {
      return Promise.reject(new DiscoveryNotReadyError('the Transport engine is not attached'));
    }
    return this.#lookups.start(
      domain,
      { signal: options.signal, timeoutMs: options.timeoutMs ?? this.#o.lookupTimeoutMs ?? 15_000 },
      (id) => runner.command({ type: 'lookup', id, domain }),
    );
  }

  /**
   * Makes `domain` reachable by anycast: when the domain directory knows no member, a lookup finds some
   * and the domain service learns the domain from the advert and member adverts the lookup brought.
   */
  async resolve(domain: DomainId, options: { signal?: AbortSignal } = {}): Promise<void> {
    const domains = this.#o.domains;
    if (domains === undefined) throw new DiscoveryNotReadyError('no domain service attached');
    if (domains.list().some((d) => d.id === domain)) return;
    await this.#learn(domains, domain, options.signal);
  }

  /** An anycast request to a domain; when no member running `dst.name` is known, a lookup comes first. */
  async request<R = unknown>(
    dst: AnycastAddress,
    body: unknown,
    options: RequestOptions = {},
  ): Promise<EngineMessage<R>> {
    const domains = this.#o.domains;
    if (domains === undefined) throw new DiscoveryNotReadyError('no domain service attached');
    if (domains.candidates(dst).length === 0) await this.#learn(domains, dst.domain, options.signal);
    const client = this.#client;
    if (client === undefined) throw new DiscoveryNotReadyError('not started');
    return client.request<R>(dst, body, options);
  }

  /** Looks `domain` up and hands its advert and the members' adverts to the domain service. */
  async #learn(domains: DiscoveryDomains, domain: DomainId, signal: AbortSignal | undefined): Promise<void> {
    const found = await this.lookup(domain, signal ? { signal } : {});
    const advert =
      found.advert ??
      domains.advert(domain) ??
      (await this.#sideband.whenDomainAdvert(domain, ADVERT_WAIT_MS));
    if (advert === undefined) throw new LookupFailedError(domain, 'the answer carried no domain advert');
    // Adverts announced with the answer may still be on their way into the identity store.
    await Promise.all([...found.members, ...advert.nodes].map((n) => this.#sideband.pending(n)));
    const adverts = [...new Set([...found.members, ...advert.nodes])].flatMap((n) => {
      const a = this.#o.directory.node(n)?.advert;
      return a ? [a] : [];
    });
    await domains.know({ advert, seeds: adverts });
  }

  /** Runs PSI with `peer`: the domains both are in (internal-only ones never take part). */
  intersect(peer: NodeId, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<string[]> {
    if (!this.participating) return Promise.reject(new NotParticipatingError());
    return this.#psi.intersect(peer, options);
  }

  /**
   * Starts gossip with `peers` (their adverts must be in the directory): asks each for its signed entry
   * and hands those that verify to the machines. Resolves with how many did.
   */
  async join(peers: readonly NodeId[]): Promise<number> {
    if (!this.participating) throw new NotParticipatingError();
    return this.#bootstrap(peers);
  }

  /** The peers in this node's inter-domain views now. */
  views(): DiscoveryViews {
    const machine = this.#gate?.inner;
    if (machine === undefined) return { view: [], samples: [], cluster: [] };
    const samples: NodeId[] = [];
    if (machine.taps.sampler !== undefined)
      for (const { id } of machine.taps.sampler.entries()) samples.push(id as NodeId);
    return {
      view: machine.taps.view().map((e) => e.peer as NodeId),
      samples,
      cluster: machine.tac.cluster().map((e) => ({
        node: e.peer as NodeId,
        shared: this.#participatingDomains().filter((d) =>
          machine.tac.membersOf(d).some((m) => m.peer === e.peer),
        ),
      })),
    };
  }

  counters(): DiscoveryServiceCounters {
    const machine = this.#gate?.inner;
    return {
      participating: this.participating,
      domains: this.#participatingDomains().length,
      forgedMessages: this.#counts.forgedMessages,
      forgedEntries: this.#counts.forgedEntries,
      adverts: this.#sideband.counters(),
      lookups: { ...this.#lookups.counts },
      psiDropped: this.#counts.psiDropped,
      psi: this.#psi.counters(),
      runner: this.#runner?.counters(),
      machine:
        machine === undefined
          ? undefined
          : {
              ...machine.taps.counters,
              tac: { ...machine.tac.counters },
              routing: { ...machine.router.counters },
            },
      restarts: this.#counts.restarts,
    };
  }

  // --- the machines -------------------------------------------------------------------------------

  /** This node's domains that take part in discovery, sorted. */
  #participatingDomains(): string[] {
    const list = this.#o.domains?.list() ?? [];
    return list
      .filter((d) => d.role === 'member' && !this.#internal.has(d.id))
      .map((d) => d.id as string)
      .sort();
  }

  #tick(): void {
    if (this.#state !== 'running') return;
    const key = this.#participatingDomains().join(',');
    if (key !== this.#domainKey && this.#restarting === undefined) {
      void this.#restart();
      return;
    }
    this.#refreshEntry();
    // A node with an empty view (just started, or its peers gone) asks peers it knows for their entries.
    const machine = this.#gate?.inner;
    const now = Date.now();
    if (
      machine !== undefined &&
      machine.taps.view().length === 0 &&
      now - this.#lastBootstrap >= BOOTSTRAP_EVERY_MS
    ) {
      this.#lastBootstrap = now;
      void this.#bootstrap();
    }
  }

  /** (Re)starts the machines with this node's current domains: a new filter means a new signed entry. */
  #restart(): Promise<void> {
    if (this.#restarting !== undefined) return this.#restarting;
    this.#restarting = this.#doRestart().finally(() => {
      this.#restarting = undefined;
    });
    return this.#restarting;
  }

  async #doRestart(): Promise<void> {
    const transport = this.#o.transport;
    if (transport === undefined || this.#state !== 'running') return;
    const domains = this.#participatingDomains();
    this.#domainKey = domains.join(',');
    const previous = this.#gate?.inner.taps.view() ?? [];
    if (this.#runner !== undefined) {
      this.#counts.restarts++;
      await this.#runner.stop();
      this.#runner = undefined;
    }
    if (this.#state !== 'running') return;
    const filter = blipFilter(domains, this.#blip, new CryptoRng());
    const entry: PeerEntry = {
      peer: this.node,
      filter,
      signature: signEntry(this.#o.keyPair, filter, Date.now()),
      age: 0,
    };
    this.#entry = entry;
    const filterBytes = blipFilterBytes(this.#blip);
    // The machines read this node's entry through getters: a re-signed entry (same filter, fresh issue
    // time) takes effect without restarting them.
    const current = () => this.#entry ?? entry;
    const advert: PeerEntry = {
      get peer() {
        return current().peer;
      },
      get filter() {
        return current().filter;
      },
      get signature() {
        return current().signature;
      },
      age: 0,
    };
    const protocol = discoveryProtocol(
      () => ({
        advert,
        domains,
        verify: (e) => this.#verify(e) && this.#fresh(e),
        trust: (peer) => this.#machineTrust(peer as NodeId),
        similarity: (a, b) =>
          a.length === filterBytes && b.length === filterBytes ? blipSimilarity(a, b, this.#blip) : 0,
        domainFilter: (domain) => bloomFilter([domain], this.#blip),
        targetSimilarity: (filter, target) =>
          filter.length === filterBytes && target.length === filterBytes
            ? blipTargetSimilarity(filter, target, this.#blip)
            : 0,
      }),
      { ...this.#o.machines },
    );
    const gated = {
      protocol: protocol.protocol,
      decode: protocol.decode,
      create: (self: string, rng: Parameters<typeof protocol.create>[1], now: number) => {
        this.#gate = new DiscoveryGate(protocol.create(self, rng, now) as DiscoveryNode, {
          verify: (e) => this.#verify(e),
          forged: (from, count) => this.#forged(from as NodeId, count),
        });
        return this.#gate;
      },
    };
    const runner: Runner = new ProtocolRunner({
      protocol: gated,
      router: advertisingRouter(this.#o.router, this.#sideband, () => this.#o.domains),
      transport,
      engineName: DISCOVERY_ENGINE,
      logger: this.#logger,
    });
    runner.on((event) => this.#onEvent(event));
    await runner.start();
    this.#runner = runner;
    const known = previous.filter((e) => this.#verify(e) && this.#fresh(e));
    if (known.length > 0) runner.command({ type: 'join', entries: known });
    else await this.#bootstrap();
  }

  /** Asks `peers` (default: bootstrap and connected peers) for their entries and joins with those. */
  async #bootstrap(given?: readonly NodeId[]): Promise<number> {
    const runner = this.#runner;
    if (runner === undefined) return 0;
    const peers = [...new Set(given ?? [...(this.#o.bootstrap ?? []), ...this.#connected()])].filter(
      (p) => p !== this.node,
    );
    const entries = await this.#sideband.hello(peers.slice(0, 8));
    const good = entries.filter((e) => this.#verify(e) && this.#fresh(e));
    if (good.length > 0 && this.#runner === runner) runner.command({ type: 'join', entries: good });
    return good.length;
  }

  #connected(): NodeId[] {
    const t = this.#o.transport as { connectedNodes?: () => NodeId[] } | undefined;
    return t?.connectedNodes?.() ?? [];
  }

  #onEvent(event: DiscoveryEvent): void {
    switch (event.type) {
      case 'psiWanted':
        this.#queuePsi(event.entry);
        return;
      case 'lookupResult': {
        const domain = this.#lookups.domainOf(event.id);
        if (domain === undefined) return;
        const members = event.members.map((m) => m.peer as NodeId);
        // The announcement with the domain's and the members' adverts came just before the answer, to
        // another engine: let it land first (bounded wait), then the adverts reach the identity store.
        const announced =
          this.#o.domains?.advert(domain) !== undefined
            ? Promise.resolve(undefined)
            : this.#sideband.whenDomainAdvert(domain, ANNOUNCEMENT_WAIT_MS);
        void announced
          .then(() => Promise.all(members.map((m) => this.#sideband.pending(m))))
          .then(() => {
            const adverts = members.flatMap((m) => {
              const a = m === this.node ? this.#o.localAdvert?.() : this.#o.directory.node(m)?.advert;
              return a ? [a] : [];
            });
            this.#lookups.answer(event.id, {
              domain,
              members,
              adverts,
              advert: this.#sideband.domainAdvert(domain) ?? this.#o.domains?.advert(domain),
              hops: event.hops,
              path: event.path as NodeId[],
            });
          });
        return;
      }
      case 'lookupFailed':
        this.#lookups.fail(event.id, event.reason);
        return;
    }
  }

  #queuePsi(entry: PeerEntry): void {
    if (this.#psiRunning >= PSI_CONCURRENCY) {
      if (this.#psiQueue.length >= PSI_QUEUE) {
        this.#counts.psiDropped++;
        return;
      }
      this.#psiQueue.push(entry);
      return;
    }
    this.#psiRunning++;
    const runner = this.#runner;
    this.#psi
      .intersect(entry.peer as NodeId)
      .then(
        (shared) => shared,
        (error) => {
          this.#logger.debug({ err: error, peer: entry.peer }, 'PSI for clustering failed');
          return [] as string[];
        },
      )
      .then((shared) => {
        this.#psiRunning--;
        if (this.#runner === runner && this.#state === 'running') {
          runner?.command({ type: 'psiResult', entry, shared });
        }
        const next = this.#psiQueue.shift();
        if (next !== undefined) this.#queuePsi(next);
      });
  }

  #learned(peer: NodeId, shared: readonly string[], role: 'initiator' | 'responder'): void {
    if (shared.length > 0) this.#o.directory.adjustReputation?.(peer, 1).catch(() => undefined);
    this.#emit({ type: 'psi:done', peer, shared, role });
  }

  /** Entries older than `entryTtlMs` are not taken in (their node has re-signed since, or is gone). */
  #fresh(entry: PeerEntry): boolean {
    const issued = entryIssued(entry.signature);
    return issued !== undefined && issued >= Date.now() - this.#entryTtl;
  }

  /** Re-signs this node's entry (same filter) once half its lifetime is gone. */
  #refreshEntry(): void {
    const entry = this.#entry;
    if (entry === undefined) return;
    const issued = entryIssued(entry.signature) ?? 0;
    if (Date.now() - issued < this.#entryTtl / 2) return;
    this.#entry = { ...entry, signature: signEntry(this.#o.keyPair, entry.filter, Date.now()) };
  }

  /** The entry is signed by the node it names (its age is not checked here: see `#fresh`). */
  #verify(entry: PeerEntry): boolean {
    if (entry.filter.length !== blipFilterBytes(this.#blip)) return false;
    const key = `${entry.peer}/${Buffer.from(entry.signature).toString('base64')}`;
    if (this.#verified.has(key)) return true;
    if (!verifyEntry(entry, Date.now() + ENTRY_SKEW_MS)) return false;
    if (this.#verified.size >= VERIFIED_MEMORY) this.#verified.clear();
    this.#verified.add(key);
    return true;
  }

  #forged(from: NodeId, count: number): void {
    this.#counts.forgedMessages++;
    this.#counts.forgedEntries += count;
    this.#o.directory.adjustReputation?.(from, -10).catch(() => undefined);
    this.#emit({ type: 'entries:forged', from, count });
  }

  /** Trust 0..255 from the identity store; a node it has no record of gets the default. */
  #trustOf(peer: NodeId): number {
    return this.#o.directory.node(peer)?.trust ?? TRUST_DEFAULT;
  }

  /**
   * The machines' trust in [0, 1], trusted from 0.5: the store's default (128) is just below, so only
   * peers the operator raised (initial peers, trusted contacts) count as trusted; 0 (banned) is 0.
   */
  #machineTrust(peer: NodeId): number {
    const t = this.#trustOf(peer);
    return t <= TRUST_DEFAULT
      ? (t / TRUST_DEFAULT) * 0.45
      : 0.5 + (0.5 * (t - TRUST_DEFAULT)) / (255 - TRUST_DEFAULT);
  }

  #emit(event: DiscoveryServiceEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#logger.warn({ err: error }, 'discovery event listener threw');
      }
    }
  }
}
