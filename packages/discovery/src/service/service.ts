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
import { type BlipParams, blipFilter, blipFilterBytes, DEFAULT_BLIP_PARAMS } from '../blip.js';
import type { DiscoveryEvent } from '../machines/discovery-node.js';
import { ClusteringPsi } from './clustering-psi.js';
import { CryptoRng } from './crypto-rng.js';
import { DISCOVERY_ENGINE, type DiscoveryRunner, discoveryRunner } from './discovery-runner.js';
import { DiscoveryNotReadyError, NotParticipatingError } from './errors.js';
import type { DiscoveryGate } from './gate.js';
import { LookupAdverts } from './lookup-adverts.js';
import { Lookups } from './lookups.js';
import type { DiscoveryDomains, DiscoveryServiceOptions, LookupResult } from './options.js';
import { PsiExchange } from './psi-exchange.js';
import {
  type DiscoveryServiceCounters,
  type DiscoveryServiceEvent,
  type DiscoveryViews,
  machineCountersOf,
  viewsOf,
} from './service-reports.js';
import { AdvertsSideband, advertisingRouter } from './sideband.js';
import { SignedEntries } from './signed-entries.js';

/** A node with an empty view asks its peers for entries at most this often. */
const BOOTSTRAP_EVERY_MS = 2000;

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
  readonly #entries: SignedEntries;
  readonly #psi: PsiExchange;
  readonly #clusteringPsi: ClusteringPsi;
  readonly #sideband: AdvertsSideband;
  readonly #listeners = new Set<(event: DiscoveryServiceEvent) => void>();
  readonly #lookups = new Lookups((result) => this.#emit({ type: 'lookup:done', result }));
  readonly #lookupAdverts: LookupAdverts;
  readonly #counts = {
    forgedMessages: 0,
    forgedEntries: 0,
    restarts: 0,
  };
  #lastBootstrap = 0;
  #runner: DiscoveryRunner | undefined;
  #gate: DiscoveryGate | undefined;
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
    this.#entries = new SignedEntries({
      keyPair: options.keyPair,
      filterBytes: blipFilterBytes(this.#blip),
      ttlMs: options.entryTtlMs ?? 3_600_000,
    });
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
      ownEntry: () => this.#entries.own,
      localAdvert: () => this.#o.localAdvert?.(),
      logger: this.#logger,
    });
    this.#clusteringPsi = new ClusteringPsi({
      intersect: (peer) => this.#psi.intersect(peer),
      // The machines running as a run starts get its result, unless a restart replaced them meanwhile.
      resultSink: () => {
        const runner = this.#runner;
        return (entry, shared) => {
          if (this.#runner === runner && this.#state === 'running') {
            runner?.command({ type: 'psiResult', entry, shared });
          }
        };
      },
      logger: this.#logger,
    });
    this.#lookupAdverts = new LookupAdverts({
      self: this.node,
      lookups: this.#lookups,
      sideband: this.#sideband,
      directory: options.directory,
      domains: () => this.#o.domains,
      localAdvert: () => this.#o.localAdvert?.(),
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
    await this.#lookupAdverts.learn(domains, domain, found);
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
    return viewsOf(this.#gate?.inner, () => this.#participatingDomains());
  }

  counters(): DiscoveryServiceCounters {
    return {
      participating: this.participating,
      domains: this.#participatingDomains().length,
      forgedMessages: this.#counts.forgedMessages,
      forgedEntries: this.#counts.forgedEntries,
      adverts: this.#sideband.counters(),
      lookups: { ...this.#lookups.counts },
      psiDropped: this.#clusteringPsi.dropped,
      psi: this.#psi.counters(),
      runner: this.#runner?.counters(),
      machine: machineCountersOf(this.#gate?.inner),
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
    this.#entries.refresh();
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
    const runner = discoveryRunner({
      advert: this.#entries.issue(filter),
      domains,
      blip: this.#blip,
      machines: this.#o.machines,
      entries: this.#entries,
      directory: this.#o.directory,
      forged: (from, count) => this.#forged(from, count),
      created: (gate) => {
        this.#gate = gate;
      },
      router: advertisingRouter(this.#o.router, this.#sideband, () => this.#o.domains),
      transport,
      logger: this.#logger,
    });
    runner.on((event) => this.#onEvent(event));
    await runner.start();
    this.#runner = runner;
    const known = previous.filter((e) => this.#entries.accept(e));
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
    const good = entries.filter((e) => this.#entries.accept(e));
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
        this.#clusteringPsi.want(event.entry);
        return;
      case 'lookupResult':
        this.#lookupAdverts.answered(event);
        return;
      case 'lookupFailed':
        this.#lookups.fail(event.id, event.reason);
        return;
    }
  }

  #learned(peer: NodeId, shared: readonly string[], role: 'initiator' | 'responder'): void {
    if (shared.length > 0) this.#o.directory.adjustReputation?.(peer, 1).catch(() => undefined);
    this.#emit({ type: 'psi:done', peer, shared, role });
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
