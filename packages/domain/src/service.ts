import {
  type AnycastAddress,
  type DomainAdvert,
  type DomainDirectory,
  type DomainId,
  KeyPair,
  NetmachineError,
  type NodeAdvert,
  type NodeId,
  noopLogger,
  type Startable,
  signDomainAdvert,
  verifyDomainAdvert,
  verifyNodeAdvert,
} from '@netmachine/core';
import type { AnycastCounters } from '@netmachine/router';
import type { DomainContext, DomainLimits } from './context.js';
import { type DomainCounters, newDomainCounters } from './counters.js';
import { NotDomainOwnerError, UnknownDomainError } from './errors.js';
import { type DomainEventListener, DomainEvents } from './events.js';
import { DomainJoiner } from './joining.js';
import type { DomainLinks } from './links.js';
import { MemberExchange } from './member-exchange.js';
import type { DomainState } from './membership.js';
import { DomainMessenger } from './messenger.js';
import type {
  CreateDomainOptions,
  DomainServiceOptions,
  DomainSummary,
  JoinOptions,
  MemberSummary,
} from './options.js';
import { DomainOverlays } from './overlays.js';
import { admitSelf, localEngines, stateFor } from './own-membership.js';
import { DOMAIN_ENGINE, type DomainRequest } from './protocol.js';
import {
  type InviteToken,
  type LeaveNotice,
  leaveToWire,
  type MembershipRecord,
  type Removal,
  removalToWire,
  signInvite,
  signLeave,
  signMemberInfo,
  signMembershipRecord,
  signRemoval,
} from './records.js';
import { refusalOf } from './refusals.js';
import { DomainRequestHandler } from './request-handler.js';
import { secretKey } from './secret.js';
import { type DomainTicket, formatDomainTicket, parseDomainTicket } from './ticket.js';
import { memberRows, rankCandidates, summarize } from './views.js';

/**
 * The domain service: this node's membership in any number of domains, each with its own overlay
 * (active view of live connections, passive view of known members), join admission by the domain's
 * policy, signed leave and removal, and the DomainDirectory the Router asks for anycast.
 *
 * The parts: the domain engine's handler (request-handler.ts), the member statements and lists
 * exchanged between members (member-exchange.ts), the overlays (overlays.ts), the messages to
 * other nodes' domain engines (messenger.ts), joining through a seed (joining.ts) and this node's
 * own state per domain (own-membership.ts); this class holds the state and the public API.
 */
export class DomainService implements DomainDirectory, Startable {
  readonly node: NodeId;
  readonly events = new DomainEvents();
  private readonly ctx: DomainContext;
  private readonly messenger: DomainMessenger;
  private readonly exchange: MemberExchange;
  private readonly handler: DomainRequestHandler;
  private readonly overlays: DomainOverlays;
  private readonly joiner: DomainJoiner;
  private timer: NodeJS.Timeout | undefined;
  private state: 'new' | 'running' | 'stopped' = 'new';

  constructor(options: DomainServiceOptions) {
    this.node = options.keyPair.id;
    const logger = (options.logger ?? noopLogger).child({ component: 'domain' });
    const counters: DomainCounters = newDomainCounters();
    const events = this.events;
    const limits: DomainLimits = {
      maxMembers: options.maxMembers ?? 1024,
      maxDomains: options.maxDomains ?? 64,
      tickMs: options.tickMs ?? 1000,
      refreshMs: options.refreshMs ?? 5000,
      requestTimeoutMs: options.requestTimeoutMs ?? 5000,
      failurePenaltyMs: options.failurePenaltyMs ?? 10_000,
    };
    this.ctx = {
      node: this.node,
      options: { ...options, links: options.links ?? unattached },
      limits,
      states: new Map(),
      counters,
      events,
      logger,
      refuse(reason, error, domain, node) {
        counters.refused[reason]++;
        logger.debug({ reason, err: error, domain, node }, 'domain input refused');
        events.emit({ type: 'Refused', domain, node, reason, error });
      },
    };
    this.messenger = new DomainMessenger(this.ctx);
    this.exchange = new MemberExchange(this.ctx, this.messenger);
    this.handler = new DomainRequestHandler(this.ctx, this.exchange);
    this.overlays = new DomainOverlays(this.ctx, this.messenger, this.exchange);
    this.joiner = new DomainJoiner(this.ctx, this.messenger, this.exchange, (state) =>
      this.startOverlay(state),
    );
  }

  // --- lifecycle ------------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'running';
    const router = this.ctx.options.router;
    router.spawn(DOMAIN_ENGINE, (message, ctx) => this.handler.handle(message, ctx.reply.bind(ctx)), {
      mailboxSize: 1024,
      mailboxPolicy: 'reject',
    });
    this.messenger.client = router.client(`${DOMAIN_ENGINE}.client`);
    router.setDomainDirectory(this);
    this.timer = setInterval(() => this.tick(), this.ctx.limits.tickMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.state !== 'running') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopped';
    clearInterval(this.timer);
    this.ctx.options.router.setDomainDirectory(undefined);
    for (const state of this.ctx.states.values()) await state.overlay?.stop();
    await this.messenger.client?.stop();
    await this.ctx.options.router.engine(DOMAIN_ENGINE)?.stop();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Gives the Transport engine (and this node's advert) to a service built before them. */
  attach(links: DomainLinks, localAdvert?: () => NodeAdvert | undefined): void {
    this.ctx.options.links = links;
    if (localAdvert) this.ctx.options.localAdvert = localAdvert;
  }

  /** A snapshot of what was admitted, refused and forwarded, each domain's views, and anycast outcomes. */
  counters(): DomainServiceCounters {
    return {
      ...this.ctx.counters,
      refused: { ...this.ctx.counters.refused },
      domains: this.list(),
      anycast: { ...this.ctx.options.router.anycastCounters },
    };
  }

  onEvent(listener: DomainEventListener): () => void {
    return this.events.on(listener);
  }

  // --- creating, joining, leaving --------------------------------------------------------------

  /** Creates a domain with this node as its first seed and member. Keep `key` to administer it. */
  async create(options: CreateDomainOptions): Promise<{ id: DomainId; key: KeyPair; advert: DomainAdvert }> {
    const key = options.key ?? KeyPair.generate();
    const advert = signDomainAdvert(key, {
      name: options.name,
      policy: options.policy ?? { kind: 'open' },
      nodes: [this.node, ...(options.seeds ?? []).filter((n) => n !== this.node)],
      protocols: [...(options.protocols ?? [])],
      // Seconds since the epoch: a restarted creator re-signs with a newer version without keeping a count.
      version: Math.floor(Date.now() / 1000),
      created: Date.now(),
    });
    const state = stateFor(this.ctx, advert, 'member');
    state.domainKey = key;
    if (options.secret !== undefined) state.secretKey = secretKey(options.secret);
    admitSelf(this.ctx, state, signMembershipRecord(key, { domain: advert.id, member: this.node }));
    await this.startOverlay(state);
    await this.ctx.options.directory.offerDomainAdvert?.(advert).catch(() => false);
    return { id: advert.id, key, advert };
  }

  /**
   * Learns a domain from its ticket (advert + seed adverts) without joining: anycast then reaches
   * its members. Refuses (InvalidSignatureError, counted) an advert not signed by its domain key.
   */
  async know(ticket: DomainTicket | string): Promise<DomainId> {
    const parsed = this.parseTicket(ticket);
    const directory = this.ctx.options.directory;
    for (const seed of parsed.seeds) await directory.offerNodeAdvert(seed).catch(() => false);
    await directory.offerDomainAdvert?.(parsed.advert).catch(() => false);
    const state = stateFor(this.ctx, parsed.advert, 'observer');
    state.lastRefresh = 0;
    return state.id;
  }

  /**
   * Joins a domain through one of its seeds, by its policy. Resolves with this node's membership
   * record; rejects with JoinRefusedError (the seed's typed reason) or ForgedJoinResponseError.
   */
  async join(ticket: DomainTicket | string, options: JoinOptions = {}): Promise<MembershipRecord> {
    const domain = await this.know(ticket);
    const state = this.ctx.states.get(domain) as DomainState;
    if (state.role === 'member' && state.record !== undefined) return state.record;
    if (options.secret !== undefined) state.secretKey = secretKey(options.secret);
    return this.joiner.throughSeeds(state, options);
  }

  /** Leaves a domain: a leave signed by this node goes to its active view and the seeds. */
  async leave(domain: DomainId): Promise<LeaveNotice> {
    const state = this.member(domain);
    const leave = signLeave(this.ctx.options.keyPair, state.record as MembershipRecord);
    const message: DomainRequest = { t: 'leave', domain, leave: leaveToWire(leave) };
    for (const node of new Set([...state.active, ...state.advert.nodes])) {
      if (node !== this.node) this.messenger.sendTo(node, message);
    }
    await state.overlay?.leave();
    state.overlay = undefined;
    this.ctx.states.delete(domain);
    return leave;
  }

  /** Removes a member (this node must hold the domain key); the removal floods the overlay. */
  remove(domain: DomainId, member: NodeId): Removal {
    const state = this.member(domain);
    if (state.domainKey === undefined) throw new NotDomainOwnerError(domain);
    const removal = signRemoval(state.domainKey, member);
    this.handler.applyRemoval(state, removal, undefined);
    this.messenger.sendTo(member, { t: 'remove', domain, removal: removalToWire(removal) });
    return removal;
  }

  /** An invite for an invite-only domain, signed by the domain key or (as an admin) this node's key. */
  invite(domain: DomainId, options: { invitee?: NodeId; ttlMs?: number } = {}): InviteToken {
    const state = this.ctx.states.get(domain);
    if (state === undefined) throw new UnknownDomainError(domain);
    const admins = state.advert.policy.kind === 'invite' ? state.advert.policy.admins : [];
    const signer = state.domainKey ?? (admins.includes(this.node) ? this.ctx.options.keyPair : undefined);
    if (signer === undefined) throw new NotDomainOwnerError(domain);
    return signInvite(signer, {
      domain,
      ...(options.invitee ? { invitee: options.invitee } : {}),
      expires: Date.now() + (options.ttlMs ?? 24 * 3600_000),
    });
  }

  /** The domain's advert and its seeds' adverts, as one pasteable line. */
  ticket(domain: DomainId): string {
    const state = this.ctx.states.get(domain);
    if (state === undefined) throw new UnknownDomainError(domain);
    const { options } = this.ctx;
    const seeds = state.advert.nodes.flatMap((n) => {
      const advert = n === this.node ? options.localAdvert?.() : options.directory.node(n)?.advert;
      return advert ? [advert] : [];
    });
    return formatDomainTicket({ advert: state.advert, seeds });
  }

  record(domain: DomainId): MembershipRecord | undefined {
    return this.ctx.states.get(domain)?.record;
  }

  advert(domain: DomainId): DomainAdvert | undefined {
    return this.ctx.states.get(domain)?.advert;
  }

  // --- status -------------------------------------------------------------------------------

  list(): DomainSummary[] {
    return [...this.ctx.states.values()].map(summarize);
  }

  members(domain: DomainId): MemberSummary[] {
    const state = this.ctx.states.get(domain);
    if (state === undefined) throw new UnknownDomainError(domain);
    return memberRows(state, this.node, this.ctx.options.links);
  }

  // --- DomainDirectory (the Router asks on every anycast) -------------------------------------

  candidates(dst: AnycastAddress): readonly NodeId[] {
    const state = this.ctx.states.get(dst.domain);
    if (state === undefined) return [];
    return rankCandidates(
      state,
      dst.name,
      this.node,
      this.ctx.options.links,
      this.ctx.limits.failurePenaltyMs,
    );
  }

  reportFailure(dst: AnycastAddress, node: NodeId): void {
    const state = this.ctx.states.get(dst.domain);
    if (state === undefined) return;
    if (state.fail(node))
      this.events.emit({ type: 'MemberRemoved', domain: state.id, node, reason: 'failed' });
    if (state.role === 'observer' && state.members.size < 2) state.lastRefresh = 0;
  }

  // --- timers ----------------------------------------------------------------------------------

  private tick(): void {
    const now = Date.now();
    for (const state of this.ctx.states.values()) {
      if (state.role === 'member') {
        // A member that started or stopped running one of the domain's engines says so.
        const engines = localEngines(this.ctx, state);
        if (state.ownInfo !== undefined && engines.join() !== state.ownInfo.engines.join()) {
          state.ownInfo = signMemberInfo(this.ctx.options.keyPair, state.record as MembershipRecord, engines);
          this.exchange.announce(state, this.exchange.ownAnnouncement(state), undefined, []);
        }
      } else if (now - state.lastRefresh >= this.ctx.limits.refreshMs) {
        state.lastRefresh = now;
        void this.refresh(state);
      }
    }
  }

  /** An observer asks a member (connected ones first, then seeds) for the member list. */
  private async refresh(state: DomainState): Promise<void> {
    const known = [...new Set([...state.members.keys(), ...state.advert.nodes])];
    for (const node of this.exchange.ordered(known).slice(0, 3)) {
      try {
        const reply = await this.messenger.ask(node, { t: 'members', domain: state.id });
        if (reply.t !== 'members') continue;
        state.advert = this.exchange.newerAdvert(state, reply.advert);
        for (const pair of reply.members) this.exchange.ingestPair(state, pair, node);
        return;
      } catch {
        this.reportFailure({ domain: state.id, name: DOMAIN_ENGINE }, node);
      }
    }
  }

  // --- helpers ---------------------------------------------------------------------------------

  private async startOverlay(state: DomainState): Promise<void> {
    if (this.state !== 'running') return;
    await this.overlays.start(state);
  }

  private member(domain: DomainId): DomainState {
    const state = this.ctx.states.get(domain);
    if (state?.role !== 'member' || state.record === undefined) throw new UnknownDomainError(domain);
    return state;
  }

  private parseTicket(ticket: DomainTicket | string): DomainTicket {
    try {
      if (typeof ticket === 'string') return parseDomainTicket(ticket);
      verifyDomainAdvert(ticket.advert);
      for (const seed of ticket.seeds) verifyNodeAdvert(seed);
      return ticket;
    } catch (error) {
      this.ctx.refuse(refusalOf(error, 'invalid-advert'), error as Error, undefined, undefined);
      throw error;
    }
  }
}

/** What `counters()` reports: refusals and views, and the router's anycast outcomes. */
export interface DomainServiceCounters extends DomainCounters {
  readonly domains: DomainSummary[];
  readonly anycast: AnycastCounters;
}

const notAttached = (): never => {
  throw new NetmachineError('ERR_NOT_STARTED', 'the domain service has no transport yet (attach it)');
};

/** Links before `attach`: nothing is connected, and connecting fails. */
const unattached: DomainLinks = {
  connect: async () => notAttached(),
  disconnect: async () => {},
  connectedNodes: () => [],
  rtt: () => undefined,
  events: { on: () => () => {} },
};
