import { type DomainId, domainAdvertToWire, type EngineMessage, type NodeId } from '@netmachine/core';
import { checkPolicy, UsedInvites } from './admission.js';
import type { DomainContext } from './context.js';
import type { DomainRefusal } from './counters.js';
import {
  InvalidDomainNoticeError,
  type JoinRefusal,
  JoinRefusedError,
  NotAMemberError,
  UnknownDomainError,
} from './errors.js';
import type { MemberExchange } from './member-exchange.js';
import type { DomainState } from './membership.js';
import {
  DOMAIN_ENGINE,
  DOMAIN_PROTOCOL,
  type DomainReply,
  type DomainRequest,
  decodeRequest,
  encodeReply,
} from './protocol.js';
import {
  leaveFromWire,
  membershipRecordToWire,
  type Removal,
  removalFromWire,
  removalToWire,
  signMembershipRecord,
  verifyLeave,
  verifyRemoval,
} from './records.js';
import { memberOf, refusalOf, refused } from './refusals.js';
import { ChallengeBook } from './secret.js';

type Reply = (to: EngineMessage, body: unknown, o?: object) => void;

/**
 * The domain engine's handler: answers challenges, joins and member-list requests, and applies the
 * notices members send (neighbor statements, announcements, syncs, leaves, removals). Bad input is
 * counted and dropped; it never stops the engine.
 */
export class DomainRequestHandler {
  private readonly challenges = new ChallengeBook();
  private readonly usedInvites = new UsedInvites();

  constructor(
    private readonly ctx: DomainContext,
    private readonly exchange: MemberExchange,
  ) {}

  handle(message: EngineMessage, reply: Reply): void {
    const from = message.src.node;
    let request: DomainRequest;
    try {
      request = decodeRequest(message.body);
    } catch (error) {
      this.ctx.refuse('bad-message', error as Error, undefined, from);
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
      this.ctx.refuse(refusalOf(error), error as Error, request.domain, from);
    }
  }

  /** Applies a removal signed by the domain key (from a peer, or made here); floods it on. */
  applyRemoval(state: DomainState, removal: Removal, from: NodeId | undefined): void {
    if (removal.domain !== state.id || !verifyRemoval(removal))
      throw new InvalidDomainNoticeError('removal', 'not signed by the domain key');
    if (!state.applyRemoval(removal.member, removal.time)) return;
    state.overlay?.evict(removal.member);
    this.ctx.events.emit({
      type: 'MemberRemoved',
      domain: state.id,
      node: removal.member,
      reason: 'removed',
    });
    this.exchange.announce(
      state,
      { t: 'remove', domain: state.id, removal: removalToWire(removal) },
      from,
      [],
    );
    if (
      removal.member === this.ctx.node &&
      state.record !== undefined &&
      state.record.issued <= removal.time
    ) {
      void state.overlay?.leave();
      state.overlay = undefined;
      state.active.clear();
      state.role = 'observer';
      state.record = undefined;
      state.ownInfo = undefined;
    }
  }

  private onChallenge(from: NodeId, domain: DomainId): DomainReply {
    const state = this.ctx.states.get(domain);
    if (state?.role !== 'member') return refused('unknown-domain', domain);
    if (state.secretKey === undefined) return refused('not-a-seed', 'this member does not hold the secret');
    return { t: 'challenge', challenge: this.challenges.issue(domain, from) };
  }

  private onJoin(from: NodeId, request: Extract<DomainRequest, { t: 'join' }>): DomainReply {
    const state = this.ctx.states.get(request.domain);
    const refuse = (reason: JoinRefusal, detail: string): DomainReply => {
      this.ctx.counters.joinsRefused++;
      const counted: DomainRefusal = reason === 'bad-request' ? 'bad-message' : reason;
      this.ctx.refuse(counted, new JoinRefusedError(request.domain, reason, detail), request.domain, from);
      return refused(reason, detail);
    };
    if (state?.role !== 'member') return refuse('unknown-domain', 'not a member here');
    const signer =
      state.domainKey ?? (state.advert.nodes.includes(this.ctx.node) ? this.ctx.options.keyPair : undefined);
    if (signer === undefined) return refuse('not-a-seed', 'this member does not admit joiners');
    if (state.removedAt(from) !== undefined) return refuse('removed', 'removed by the domain key');
    const refusal = checkPolicy(state, from, request, {
      self: this.ctx.node,
      challenges: this.challenges,
      usedInvites: this.usedInvites,
    });
    if (refusal !== undefined) return refuse(refusal.reason, refusal.detail);
    const record = signMembershipRecord(signer, { domain: state.id, member: from });
    state.admitted.add(from);
    this.ctx.counters.joinsAdmitted++;
    return {
      t: 'joined',
      record: membershipRecordToWire(record),
      advert: domainAdvertToWire(state.advert),
      members: this.exchange.sample(state, from),
    };
  }

  private onMembers(domain: DomainId): DomainReply {
    const state = this.ctx.states.get(domain);
    if (state?.role !== 'member') return refused('unknown-domain', 'not a member here');
    return {
      t: 'members',
      advert: domainAdvertToWire(state.advert),
      members: this.exchange.sample(state, undefined),
    };
  }

  private onNotice(from: NodeId, request: DomainRequest): void {
    const state = this.ctx.states.get(request.domain);
    if (state === undefined) throw new UnknownDomainError(request.domain);
    switch (request.t) {
      case 'neighbor':
        this.exchange.ingestClaim(state, from, request.info);
        return;
      case 'announce': {
        if (state.role !== 'member') return;
        const result = this.exchange.ingestPair(state, [request.info, request.advert], from);
        if (result === 'added' || result === 'updated') {
          this.exchange.announce(state, request, from, []);
          if (result === 'added')
            this.ctx.events.emit({ type: 'MemberAdded', domain: state.id, node: memberOf(request.info) });
        }
        return;
      }
      case 'sync': {
        // Only a member's peer sends its member list: the sender must be a known member.
        if (!state.members.has(from)) throw new NotAMemberError(state.id, from);
        for (const pair of request.members) this.exchange.ingestPair(state, pair, from);
        return;
      }
      case 'leave': {
        const leave = leaveFromWire(request.leave);
        if (leave.domain !== state.id || !verifyLeave(leave))
          throw new InvalidDomainNoticeError('leave', 'not signed by the member');
        state.applyLeave(leave);
        state.overlay?.evict(leave.member);
        this.ctx.events.emit({ type: 'MemberRemoved', domain: state.id, node: leave.member, reason: 'left' });
        this.exchange.announce(state, request, from, []);
        return;
      }
      case 'remove':
        this.applyRemoval(state, removalFromWire(request.removal), from);
        return;
    }
  }
}
