import {
  type AnycastAddress,
  type DomainAdvert,
  type DomainDirectory,
  type DomainId,
  domainAdvertFromWire,
  domainAdvertToWire,
  type EngineMessage,
  InvalidSignatureError,
  KeyPair,
  type Logger,
  NetmachineError,
  type NodeAdvert,
  type NodeId,
  nodeAdvertFromWire,
  nodeAdvertToWire,
  noopLogger,
  type Startable,
  signDomainAdvert,
  verifyDomainAdvert,
  verifyNodeAdvert,
} from '@netmachine/core';
import { SharedLinks } from '@netmachine/overlay';
import type { AnycastCounters, EngineClient } from '@netmachine/router';
import { checkPolicy, UsedInvites } from './admission.js';
import { type DomainCounters, type DomainRefusal, newDomainCounters } from './counters.js';
import {
  ForgedJoinResponseError,
  InvalidDomainNoticeError,
  InvalidMembershipRecordError,
  type JoinRefusal,
  JoinRefusedError,
  LeaveReplayError,
  NotAMemberError,
  NotDomainOwnerError,
  UnknownDomainError,
} from './errors.js';
import { type DomainEventListener, DomainEvents } from './events.js';
import type { DomainLinks } from './links.js';
import { DomainState } from './membership.js';
import type {
  CreateDomainOptions,
  DomainServiceOptions,
  DomainSummary,
  JoinOptions,
  MemberSummary,
} from './options.js';
import { DomainOverlay } from './overlay.js';
import {
  DOMAIN_ENGINE,
  DOMAIN_PROTOCOL,
  type DomainReply,
  type DomainRequest,
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
  MAX_MEMBERS_PER_MESSAGE,
} from './protocol.js';
import {
  type InviteToken,
  inviteToWire,
  type LeaveNotice,
  leaveFromWire,
  leaveToWire,
  type MemberInfo,
  type MembershipRecord,
  memberInfoFromWire,
  memberInfoToWire,
  membershipRecordFromWire,
  membershipRecordToWire,
  type Removal,
  removalFromWire,
  removalToWire,
  signInvite,
  signLeave,
  signMemberInfo,
  signMembershipRecord,
  signRemoval,
  verifyLeave,
  verifyMemberInfo,
  verifyMembershipRecord,
  verifyRemoval,
} from './records.js';
import { advertFirstRouter } from './runner-router.js';
import { ChallengeBook, secretKey, secretProof } from './secret.js';
import { type DomainTicket, formatDomainTicket, parseDomainTicket } from './ticket.js';
import { memberRows, rankCandidates, summarize } from './views.js';

/** How long an overlay connect waits for the peer's advert to arrive. */
const ADVERT_WAIT_MS = 3000;

/**
 * The domain service: this node's membership in any number of domains, each with its own overlay
 * (active view of live connections, passive view of known members), join admission by the domain's
 * policy, signed leave and removal, and the DomainDirectory the Router asks for anycast.
 */
export class DomainService implements DomainDirectory, Startable {
  readonly node: NodeId;
  readonly #counters: DomainCounters = newDomainCounters();
  readonly events = new DomainEvents();
  private readonly states = new Map<DomainId, DomainState>();
  private readonly challenges = new ChallengeBook();
  private readonly usedInvites = new UsedInvites();
  /** Connections shared by the overlays of every domain: a link stays up while any of them wants it. */
  private readonly links: SharedLinks;
  private readonly logger: Logger;
  private readonly o: Required<
    Pick<
      DomainServiceOptions,
      'maxMembers' | 'maxDomains' | 'tickMs' | 'refreshMs' | 'requestTimeoutMs' | 'failurePenaltyMs'
    >
  >;
  private client: EngineClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private state: 'new' | 'running' | 'stopped' = 'new';

  private readonly options: DomainServiceOptions & { links: DomainLinks };

  constructor(options: DomainServiceOptions) {
    this.options = { ...options, links: options.links ?? unattached };
    this.node = options.keyPair.id;
    this.logger = (options.logger ?? noopLogger).child({ component: 'domain' });
    this.o = {
      maxMembers: options.maxMembers ?? 1024,
      maxDomains: options.maxDomains ?? 64,
      tickMs: options.tickMs ?? 1000,
      refreshMs: options.refreshMs ?? 5000,
      requestTimeoutMs: options.requestTimeoutMs ?? 5000,
      failurePenaltyMs: options.failurePenaltyMs ?? 10_000,
    };
    this.links = new SharedLinks({
      connect: (node, o) => this.connectMember(node, o),
      disconnect: (node) => this.options.links.disconnect(node),
    });
  }

  // --- lifecycle ------------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'running';
    const router = this.options.router;
    router.spawn(DOMAIN_ENGINE, (message, ctx) => this.handle(message, ctx.reply.bind(ctx)), {
      mailboxSize: 1024,
      mailboxPolicy: 'reject',
    });
    this.client = router.client(`${DOMAIN_ENGINE}.client`);
    router.setDomainDirectory(this);
    this.timer = setInterval(() => this.tick(), this.o.tickMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.state !== 'running') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopped';
    clearInterval(this.timer);
    this.options.router.setDomainDirectory(undefined);
    for (const state of this.states.values()) await state.overlay?.stop();
    await this.client?.stop();
    await this.options.router.engine(DOMAIN_ENGINE)?.stop();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Gives the Transport engine (and this node's advert) to a service built before them. */
  attach(links: DomainLinks, localAdvert?: () => NodeAdvert | undefined): void {
    this.options.links = links;
    if (localAdvert) this.options.localAdvert = localAdvert;
  }

  /** A snapshot of what was admitted, refused and forwarded, each domain's views, and anycast outcomes. */
  counters(): DomainServiceCounters {
    return {
      ...this.#counters,
      refused: { ...this.#counters.refused },
      domains: this.list(),
      anycast: { ...this.options.router.anycastCounters },
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
    const state = this.stateFor(advert, 'member');
    state.domainKey = key;
    if (options.secret !== undefined) state.secretKey = secretKey(options.secret);
    this.admitSelf(state, signMembershipRecord(key, { domain: advert.id, member: this.node }));
    await this.startOverlay(state);
    await this.options.directory.offerDomainAdvert?.(advert).catch(() => false);
    return { id: advert.id, key, advert };
  }

  /**
   * Learns a domain from its ticket (advert + seed adverts) without joining: anycast then reaches
   * its members. Refuses (InvalidSignatureError, counted) an advert not signed by its domain key.
   */
  async know(ticket: DomainTicket | string): Promise<DomainId> {
    const parsed = this.parseTicket(ticket);
    for (const seed of parsed.seeds) await this.options.directory.offerNodeAdvert(seed).catch(() => false);
    await this.options.directory.offerDomainAdvert?.(parsed.advert).catch(() => false);
    const state = this.stateFor(parsed.advert, 'observer');
    state.lastRefresh = 0;
    return state.id;
  }

  /**
   * Joins a domain through one of its seeds, by its policy. Resolves with this node's membership
   * record; rejects with JoinRefusedError (the seed's typed reason) or ForgedJoinResponseError.
   */
  async join(ticket: DomainTicket | string, options: JoinOptions = {}): Promise<MembershipRecord> {
    const domain = await this.know(ticket);
    const state = this.states.get(domain) as DomainState;
    if (state.role === 'member' && state.record !== undefined) return state.record;
    if (options.secret !== undefined) state.secretKey = secretKey(options.secret);
    const seeds = this.ordered(state.advert.nodes.filter((n) => n !== this.node));
    let lastError: Error = new UnknownDomainError(domain);
    for (const seed of seeds) {
      options.signal?.throwIfAborted();
      try {
        return await this.joinThrough(state, seed, options);
      } catch (error) {
        lastError = error as Error;
        // A seed that cannot decide (not a seed any more, no secret, unreachable) sends us to the next.
        if (error instanceof JoinRefusedError && !['unknown-domain', 'not-a-seed'].includes(error.reason))
          throw error;
        if (error instanceof ForgedJoinResponseError) throw error;
      }
    }
    throw lastError;
  }

  private async joinThrough(
    state: DomainState,
    seed: NodeId,
    options: JoinOptions,
  ): Promise<MembershipRecord> {
    let proof: { challenge: Uint8Array; mac: Uint8Array } | undefined;
    if (state.advert.policy.kind === 'secret') {
      const reply = await this.ask(seed, { t: 'challenge', domain: state.id }, options.signal);
      if (reply.t !== 'challenge') throw this.refusal(state.id, reply);
      if (state.secretKey === undefined)
        throw new JoinRefusedError(state.id, 'wrong-secret', 'no secret given');
      proof = {
        challenge: reply.challenge,
        mac: secretProof(state.secretKey, {
          domain: state.id,
          joiner: this.node,
          seed,
          challenge: reply.challenge,
        }),
      };
    }
    const invite = options.invite ? inviteToWire(options.invite) : undefined;
    const reply = await this.ask(seed, { t: 'join', domain: state.id, invite, proof }, options.signal);
    if (reply.t !== 'joined') throw this.refusal(state.id, reply);
    let record: MembershipRecord;
    try {
      const advert = this.newerAdvert(state, reply.advert);
      record = verifyMembershipRecord(membershipRecordFromWire(reply.record), advert, { member: this.node });
      state.advert = advert;
    } catch (error) {
      const forged = new ForgedJoinResponseError(
        state.id,
        error instanceof Error ? error.message : String(error),
        { cause: error },
      );
      this.refuse('forged-join-response', forged, state.id, seed);
      throw forged;
    }
    state.role = 'member';
    this.admitSelf(state, record);
    for (const pair of reply.members) this.ingestPair(state, pair, seed);
    this.announce(state, this.ownAnnouncement(state), undefined, [seed]);
    // A round trip to the seed after the announcement: the seed has passed it on to its active view
    // before our overlay Join makes it tell them about us.
    const barrier = await this.ask(seed, { t: 'members', domain: state.id }, options.signal).catch(
      () => undefined,
    );
    if (barrier?.t === 'members') for (const pair of barrier.members) this.ingestPair(state, pair, seed);
    await this.startOverlay(state);
    state.overlay?.join(seed);
    return record;
  }

  /** Leaves a domain: a leave signed by this node goes to its active view and the seeds. */
  async leave(domain: DomainId): Promise<LeaveNotice> {
    const state = this.member(domain);
    const leave = signLeave(this.options.keyPair, state.record as MembershipRecord);
    const message: DomainRequest = { t: 'leave', domain, leave: leaveToWire(leave) };
    for (const node of new Set([...state.active, ...state.advert.nodes])) {
      if (node !== this.node) this.sendTo(node, message);
    }
    await state.overlay?.leave();
    state.overlay = undefined;
    this.states.delete(domain);
    return leave;
  }

  /** Removes a member (this node must hold the domain key); the removal floods the overlay. */
  remove(domain: DomainId, member: NodeId): Removal {
    const state = this.member(domain);
    if (state.domainKey === undefined) throw new NotDomainOwnerError(domain);
    const removal = signRemoval(state.domainKey, member);
    this.applyRemoval(state, removal, undefined);
    this.sendTo(member, { t: 'remove', domain, removal: removalToWire(removal) });
    return removal;
  }

  /** An invite for an invite-only domain, signed by the domain key or (as an admin) this node's key. */
  invite(domain: DomainId, options: { invitee?: NodeId; ttlMs?: number } = {}): InviteToken {
    const state = this.states.get(domain);
    if (state === undefined) throw new UnknownDomainError(domain);
    const admins = state.advert.policy.kind === 'invite' ? state.advert.policy.admins : [];
    const signer = state.domainKey ?? (admins.includes(this.node) ? this.options.keyPair : undefined);
    if (signer === undefined) throw new NotDomainOwnerError(domain);
    return signInvite(signer, {
      domain,
      ...(options.invitee ? { invitee: options.invitee } : {}),
      expires: Date.now() + (options.ttlMs ?? 24 * 3600_000),
    });
  }

  /** The domain's advert and its seeds' adverts, as one pasteable line. */
  ticket(domain: DomainId): string {
    const state = this.states.get(domain);
    if (state === undefined) throw new UnknownDomainError(domain);
    const seeds = state.advert.nodes.flatMap((n) => {
      const advert = n === this.node ? this.options.localAdvert?.() : this.options.directory.node(n)?.advert;
      return advert ? [advert] : [];
    });
    return formatDomainTicket({ advert: state.advert, seeds });
  }

  record(domain: DomainId): MembershipRecord | undefined {
    return this.states.get(domain)?.record;
  }

  advert(domain: DomainId): DomainAdvert | undefined {
    return this.states.get(domain)?.advert;
  }

  // --- status -------------------------------------------------------------------------------

  list(): DomainSummary[] {
    return [...this.states.values()].map(summarize);
  }

  members(domain: DomainId): MemberSummary[] {
    const state = this.states.get(domain);
    if (state === undefined) throw new UnknownDomainError(domain);
    return memberRows(state, this.node, this.options.links);
  }

  // --- DomainDirectory (the Router asks on every anycast) -------------------------------------

  candidates(dst: AnycastAddress): readonly NodeId[] {
    const state = this.states.get(dst.domain);
    if (state === undefined) return [];
    return rankCandidates(state, dst.name, this.node, this.options.links, this.o.failurePenaltyMs);
  }

  reportFailure(dst: AnycastAddress, node: NodeId): void {
    const state = this.states.get(dst.domain);
    if (state === undefined) return;
    if (state.fail(node))
      this.events.emit({ type: 'MemberRemoved', domain: state.id, node, reason: 'failed' });
    if (state.role === 'observer' && state.members.size < 2) state.lastRefresh = 0;
  }

  // --- incoming --------------------------------------------------------------------------------

  private handle(
    message: EngineMessage,
    reply: (to: EngineMessage, body: unknown, o?: object) => void,
  ): void {
    const from = message.src.node;
    let request: DomainRequest;
    try {
      request = decodeRequest(message.body);
    } catch (error) {
      this.refuse('bad-message', error as Error, undefined, from);
      if (message.src.name === `${DOMAIN_ENGINE}.client`)
        reply(
          message,
          encodeReply({ t: 'refused', reason: 'bad-request', detail: (error as Error).message }),
          {
            protocol: DOMAIN_PROTOCOL,
          },
        );
      return;
    }
    const answer = (r: DomainReply): void => reply(message, encodeReply(r), { protocol: DOMAIN_PROTOCOL });
    try {
      switch (request.t) {
        case 'challenge':
          answer(this.onChallenge(from, request.domain));
          return;
        case 'join':
          answer(this.onJoin(from, request));
          return;
        case 'members':
          answer(this.onMembers(request.domain));
          return;
        default:
          this.onNotice(from, request);
      }
    } catch (error) {
      // Bad input from a peer is counted and dropped; it never stops the engine.
      this.refuse(refusalOf(error), error as Error, request.domain, from);
    }
  }

  private onChallenge(from: NodeId, domain: DomainId): DomainReply {
    const state = this.states.get(domain);
    if (state?.role !== 'member') return refused('unknown-domain', domain);
    if (state.secretKey === undefined) return refused('not-a-seed', 'this member does not hold the secret');
    return { t: 'challenge', challenge: this.challenges.issue(domain, from) };
  }

  private onJoin(from: NodeId, request: Extract<DomainRequest, { t: 'join' }>): DomainReply {
    const state = this.states.get(request.domain);
    const refuse = (reason: JoinRefusal, detail: string): DomainReply => {
      this.#counters.joinsRefused++;
      const counted: DomainRefusal = reason === 'bad-request' ? 'bad-message' : reason;
      this.refuse(counted, new JoinRefusedError(request.domain, reason, detail), request.domain, from);
      return refused(reason, detail);
    };
    if (state?.role !== 'member') return refuse('unknown-domain', 'not a member here');
    const signer =
      state.domainKey ?? (state.advert.nodes.includes(this.node) ? this.options.keyPair : undefined);
    if (signer === undefined) return refuse('not-a-seed', 'this member does not admit joiners');
    if (state.removedAt(from) !== undefined) return refuse('removed', 'removed by the domain key');
    const refusal = checkPolicy(state, from, request, {
      self: this.node,
      challenges: this.challenges,
      usedInvites: this.usedInvites,
    });
    if (refusal !== undefined) return refuse(refusal.reason, refusal.detail);
    const record = signMembershipRecord(signer, { domain: state.id, member: from });
    state.admitted.add(from);
    this.#counters.joinsAdmitted++;
    return {
      t: 'joined',
      record: membershipRecordToWire(record),
      advert: domainAdvertToWire(state.advert),
      members: this.sample(state, from),
    };
  }

  private onMembers(domain: DomainId): DomainReply {
    const state = this.states.get(domain);
    if (state?.role !== 'member') return refused('unknown-domain', 'not a member here');
    return { t: 'members', advert: domainAdvertToWire(state.advert), members: this.sample(state, undefined) };
  }

  private onNotice(from: NodeId, request: DomainRequest): void {
    const state = this.states.get(request.domain);
    if (state === undefined) throw new UnknownDomainError(request.domain);
    switch (request.t) {
      case 'neighbor':
        this.ingestClaim(state, from, request.info);
        return;
      case 'announce': {
        if (state.role !== 'member') return;
        const result = this.ingestPair(state, [request.info, request.advert], from);
        if (result === 'added' || result === 'updated') {
          this.announce(state, request, from, []);
          if (result === 'added')
            this.events.emit({ type: 'MemberAdded', domain: state.id, node: memberOf(request.info) });
        }
        return;
      }
      case 'sync': {
        // Only a member's peer sends its member list: the sender must be a known member.
        if (!state.members.has(from)) throw new NotAMemberError(state.id, from);
        for (const pair of request.members) this.ingestPair(state, pair, from);
        return;
      }
      case 'leave': {
        const leave = leaveFromWire(request.leave);
        if (leave.domain !== state.id || !verifyLeave(leave))
          throw new InvalidDomainNoticeError('leave', 'not signed by the member');
        state.applyLeave(leave);
        state.overlay?.evict(leave.member);
        this.events.emit({ type: 'MemberRemoved', domain: state.id, node: leave.member, reason: 'left' });
        this.announce(state, request, from, []);
        return;
      }
      case 'remove':
        this.applyRemoval(state, removalFromWire(request.removal), from);
        return;
    }
  }

  private applyRemoval(state: DomainState, removal: Removal, from: NodeId | undefined): void {
    if (removal.domain !== state.id || !verifyRemoval(removal))
      throw new InvalidDomainNoticeError('removal', 'not signed by the domain key');
    if (!state.applyRemoval(removal.member, removal.time)) return;
    state.overlay?.evict(removal.member);
    this.events.emit({ type: 'MemberRemoved', domain: state.id, node: removal.member, reason: 'removed' });
    this.announce(state, { t: 'remove', domain: state.id, removal: removalToWire(removal) }, from, []);
    if (removal.member === this.node && state.record !== undefined && state.record.issued <= removal.time) {
      void state.overlay?.leave();
      state.overlay = undefined;
      state.active.clear();
      state.role = 'observer';
      state.record = undefined;
      state.ownInfo = undefined;
    }
  }

  /** A statement the sender makes about itself: it must carry a valid record for the sender. */
  private ingestClaim(state: DomainState, from: NodeId, value: unknown): MemberInfo | undefined {
    let info: MemberInfo;
    try {
      info = memberInfoFromWire(value);
      if (info.record.member !== from) throw new NotAMemberError(state.id, from);
      verifyMemberInfo(info, state.advert, state.removedAt(from));
    } catch (error) {
      const notMember = new NotAMemberError(state.id, from);
      this.refuse('not-a-member', error instanceof NotAMemberError ? error : notMember, state.id, from);
      return undefined;
    }
    const result = state.upsert(info, undefined);
    if (result === 'added') this.events.emit({ type: 'MemberAdded', domain: state.id, node: from });
    return info;
  }

  /** `[info, advert]` from a member list or announcement; counted and skipped when invalid. */
  private ingestPair(
    state: DomainState,
    pair: unknown,
    from: NodeId,
  ): ReturnType<DomainState['upsert']> | 'invalid' {
    try {
      if (!Array.isArray(pair) || pair.length !== 2)
        throw new InvalidMembershipRecordError(state.id, 'bad entry');
      const info = verifyMemberInfo(
        memberInfoFromWire(pair[0]),
        state.advert,
        state.removedAt(memberOf(pair[0])),
      );
      if (info.record.member === this.node) return 'stale';
      let advert: NodeAdvert | undefined;
      if (pair[1] !== null && pair[1] !== undefined) {
        advert = verifyNodeAdvert(nodeAdvertFromWire(pair[1]));
        if (advert.id !== info.record.member) throw new InvalidSignatureError('node advert of another node');
        void this.options.directory.offerNodeAdvert(advert).catch(() => false);
      }
      const result = state.upsert(info, advert);
      if (result === 'full')
        this.refuse(
          'members-full',
          new InvalidMembershipRecordError(state.id, 'member table full'),
          state.id,
          from,
        );
      return result;
    } catch (error) {
      this.refuse(refusalOf(error), error as Error, state.id, from);
      return 'invalid';
    }
  }

  // --- the overlay ---------------------------------------------------------------------------

  private async startOverlay(state: DomainState): Promise<void> {
    if (state.overlay !== undefined || this.state !== 'running') return;
    const overlay = new DomainOverlay(
      {
        domain: state.id,
        router: advertFirstRouter(this.options.router, (node) => {
          const advert = this.pendingAdvert(node);
          return advert && this.options.directory.offerNodeAdvert(advert).catch(() => false);
        }),
        transport: this.options.links,
        links: this.links,
        config: this.options.overlay,
        logger: this.logger,
      },
      {
        isMember: (node) => state.members.has(node) || state.admitted.has(node),
        verifyClaim: (node) => this.verifyClaim(state, node),
        refused: (node, dropped) => {
          for (let i = 0; i < dropped; i++)
            this.refuse('not-a-member', new NotAMemberError(state.id, node), state.id, node);
        },
        added: (node) => this.peerAdded(state, node),
        removed: (node) => {
          if (!state.active.delete(node)) return;
          this.#counters.viewRemovals++;
          const lost = !this.options.links.connectedNodes().includes(node);
          this.events.emit({
            type: 'PeerRemovedFromView',
            domain: state.id,
            node,
            reason: lost ? 'disconnected' : 'replaced',
          });
          // A peer lost with its connection counts against it: after a few such losses it is forgotten.
          if (lost && state.fail(node))
            this.events.emit({ type: 'MemberRemoved', domain: state.id, node, reason: 'failed' });
        },
      },
    );
    state.overlay = overlay;
    await overlay.start();
  }

  /** A member's advert this node holds with its statement but not yet in the directory. */
  private pendingAdvert(node: NodeId): NodeAdvert | undefined {
    if (this.options.directory.node(node)?.advert !== undefined) return undefined;
    for (const state of this.states.values()) {
      const advert = state.members.get(node)?.advert;
      if (advert !== undefined) return advert;
    }
    return undefined;
  }

  /**
   * Connects an overlay peer. The overlay may name a member whose advert (its addresses) is still on
   * its way, in the announcement that travels beside the overlay's own messages: the advert kept with
   * the member's statement is used, or the connect waits a little for it.
   */
  private async connectMember(node: NodeId, options?: { permanent?: boolean }): Promise<void> {
    const directory = this.options.directory;
    for (let waited = 0; directory.node(node)?.advert === undefined && waited < ADVERT_WAIT_MS; ) {
      const known = this.pendingAdvert(node);
      if (known !== undefined) {
        await directory.offerNodeAdvert(known).catch(() => false);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
      waited += 50;
    }
    return this.options.links.connect(node, options);
  }

  /** Asks a peer that spoke in the overlay for its statement (it lists itself first). */
  private async verifyClaim(state: DomainState, node: NodeId): Promise<boolean> {
    if (state.removedAt(node) !== undefined) return false;
    const reply = await this.ask(node, { t: 'members', domain: state.id });
    if (reply.t !== 'members') return false;
    for (const pair of reply.members.slice(0, 1)) this.ingestPair(state, pair, node);
    return state.members.has(node);
  }

  private peerAdded(state: DomainState, node: NodeId): void {
    state.active.add(node);
    state.succeed(node);
    this.#counters.viewAdds++;
    this.events.emit({ type: 'PeerAddedToView', domain: state.id, node });
    if (state.ownInfo !== undefined)
      this.sendTo(node, { t: 'neighbor', domain: state.id, info: memberInfoToWire(state.ownInfo) });
    this.sendTo(node, { t: 'sync', domain: state.id, members: this.sample(state, node) });
  }

  /** Floods a notice over the active view (and `extra`), except back to where it came from. */
  private announce(
    state: DomainState,
    request: DomainRequest,
    from: NodeId | undefined,
    extra: NodeId[],
  ): void {
    for (const node of new Set([...state.active, ...extra])) {
      if (node === from || node === this.node) continue;
      this.#counters.announcementsForwarded++;
      this.sendTo(node, request);
    }
  }

  private ownAnnouncement(state: DomainState): DomainRequest {
    const advert = this.options.localAdvert?.();
    return {
      t: 'announce',
      domain: state.id,
      info: memberInfoToWire(state.ownInfo as MemberInfo),
      advert: advert ? nodeAdvertToWire(advert) : undefined,
    };
  }

  private tick(): void {
    const now = Date.now();
    for (const state of this.states.values()) {
      if (state.role === 'member') {
        // A member that started or stopped running one of the domain's engines says so.
        const engines = this.localEngines(state);
        if (state.ownInfo !== undefined && engines.join() !== state.ownInfo.engines.join()) {
          state.ownInfo = signMemberInfo(this.options.keyPair, state.record as MembershipRecord, engines);
          this.announce(state, this.ownAnnouncement(state), undefined, []);
        }
      } else if (now - state.lastRefresh >= this.o.refreshMs) {
        state.lastRefresh = now;
        void this.refresh(state);
      }
    }
  }

  /** An observer asks a member (connected ones first, then seeds) for the member list. */
  private async refresh(state: DomainState): Promise<void> {
    const nodes = this.ordered([...new Set([...state.members.keys(), ...state.advert.nodes])]).slice(0, 3);
    for (const node of nodes) {
      try {
        const reply = await this.ask(node, { t: 'members', domain: state.id });
        if (reply.t !== 'members') continue;
        state.advert = this.newerAdvert(state, reply.advert);
        for (const pair of reply.members) this.ingestPair(state, pair, node);
        return;
      } catch {
        this.reportFailure({ domain: state.id, name: DOMAIN_ENGINE }, node);
      }
    }
  }

  // --- helpers ---------------------------------------------------------------------------------

  private stateFor(advert: DomainAdvert, role: 'member' | 'observer'): DomainState {
    const known = this.states.get(advert.id);
    if (known !== undefined) {
      if (advert.version > known.advert.version) known.advert = advert;
      if (role === 'member') known.role = role;
      return known;
    }
    if (this.states.size >= this.o.maxDomains)
      throw new NetmachineError('ERR_TOO_MANY_DOMAINS', `at most ${this.o.maxDomains} domains`);
    const state = new DomainState(advert, role, this.o.maxMembers);
    this.states.set(advert.id, state);
    return state;
  }

  private admitSelf(state: DomainState, record: MembershipRecord): void {
    state.role = 'member';
    state.record = record;
    state.ownInfo = signMemberInfo(this.options.keyPair, record, this.localEngines(state));
  }

  private localEngines(state: DomainState): string[] {
    return state.advert.protocols.filter((name) => this.options.router.engine(name) !== undefined);
  }

  private member(domain: DomainId): DomainState {
    const state = this.states.get(domain);
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
      this.refuse(refusalOf(error, 'invalid-advert'), error as Error, undefined, undefined);
      throw error;
    }
  }

  /** The advert in a reply when it is the same domain's, validly signed and newer; else the known one. */
  private newerAdvert(state: DomainState, value: unknown): DomainAdvert {
    if (value === null || value === undefined) return state.advert;
    const advert = domainAdvertFromWire(value);
    if (advert.id !== state.id) throw new InvalidSignatureError(`advert of another domain ${advert.id}`);
    try {
      verifyDomainAdvert(advert);
    } catch (error) {
      this.refuse('invalid-advert', error as Error, state.id, undefined);
      throw error;
    }
    if (advert.version > state.advert.version) {
      void this.options.directory.offerDomainAdvert?.(advert).catch(() => false);
      return advert;
    }
    return state.advert;
  }

  /** Up to MAX_MEMBERS_PER_MESSAGE `[info, advert]` pairs: this node first, then a random sample. */
  private sample(state: DomainState, except: NodeId | undefined): unknown[] {
    const pairs: unknown[] = [];
    if (state.ownInfo !== undefined) {
      const own = this.options.localAdvert?.();
      pairs.push([memberInfoToWire(state.ownInfo), own ? nodeAdvertToWire(own) : null]);
    }
    const entries = [...state.members.values()].filter((e) => e.info.record.member !== except);
    for (let i = entries.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [entries[i], entries[j]] = [
        entries[j] as (typeof entries)[number],
        entries[i] as (typeof entries)[number],
      ];
    }
    for (const entry of entries.slice(0, MAX_MEMBERS_PER_MESSAGE - pairs.length)) {
      const advert = entry.advert ?? this.options.directory.node(entry.info.record.member)?.advert;
      pairs.push([memberInfoToWire(entry.info), advert ? nodeAdvertToWire(advert) : null]);
    }
    return pairs;
  }

  /** Connected nodes first, then the rest, in the given order. */
  private ordered(nodes: readonly NodeId[]): NodeId[] {
    const connected = new Set(this.options.links.connectedNodes());
    return [...nodes.filter((n) => connected.has(n)), ...nodes.filter((n) => !connected.has(n))];
  }

  private async ask(node: NodeId, request: DomainRequest, signal?: AbortSignal): Promise<DomainReply> {
    const client = this.client;
    if (client === undefined) throw new NetmachineError('ERR_NOT_STARTED', 'domain service not started');
    const reply = await client.request({ node, name: DOMAIN_ENGINE }, encodeRequest(request), {
      protocol: DOMAIN_PROTOCOL,
      timeoutMs: this.o.requestTimeoutMs,
      ...(signal ? { signal } : {}),
    });
    try {
      return decodeReply(reply.body);
    } catch (error) {
      this.refuse('bad-message', error as Error, request.domain, node);
      throw error;
    }
  }

  private sendTo(node: NodeId, request: DomainRequest): void {
    try {
      this.client?.send({ node, name: DOMAIN_ENGINE }, encodeRequest(request), { protocol: DOMAIN_PROTOCOL });
    } catch (error) {
      this.logger.debug({ err: error, node }, 'domain notice not sent');
    }
  }

  private refusal(domain: DomainId, reply: DomainReply): Error {
    if (reply.t === 'refused') return new JoinRefusedError(domain, reply.reason, reply.detail);
    return new JoinRefusedError(domain, 'bad-request', `unexpected reply ${reply.t}`);
  }

  private refuse(
    reason: DomainRefusal,
    error: Error,
    domain: DomainId | undefined,
    node: NodeId | undefined,
  ): void {
    this.#counters.refused[reason]++;
    this.logger.debug({ reason, err: error, domain, node }, 'domain input refused');
    this.events.emit({ type: 'Refused', domain, node, reason, error });
  }
}

function refused(reason: JoinRefusal, detail: string): DomainReply {
  return { t: 'refused', reason, detail };
}

function memberOf(infoWire: unknown): NodeId {
  try {
    return memberInfoFromWire(infoWire).record.member;
  } catch {
    return '' as NodeId;
  }
}

/** The counter a failure belongs to. */
function refusalOf(error: unknown, fallback: DomainRefusal = 'bad-message'): DomainRefusal {
  if (error instanceof LeaveReplayError) return 'leave-replay';
  if (error instanceof InvalidDomainNoticeError)
    return error.kind === 'leave' ? 'invalid-leave' : 'invalid-removal';
  if (error instanceof NotAMemberError) return 'not-a-member';
  if (error instanceof InvalidMembershipRecordError) return 'invalid-record';
  if (error instanceof UnknownDomainError) return 'unknown-domain';
  if (error instanceof InvalidSignatureError)
    return fallback === 'bad-message' ? 'invalid-member-info' : fallback;
  return fallback;
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
