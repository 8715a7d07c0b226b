import type { NodeId } from '@netmachine/core';
import type { DomainContext } from './context.js';
import { ForgedJoinResponseError, JoinRefusedError, UnknownDomainError } from './errors.js';
import type { MemberExchange } from './member-exchange.js';
import type { DomainState } from './membership.js';
import type { DomainMessenger } from './messenger.js';
import type { JoinOptions } from './options.js';
import { admitSelf } from './own-membership.js';
import {
  inviteToWire,
  type MembershipRecord,
  membershipRecordFromWire,
  verifyMembershipRecord,
} from './records.js';
import { joinRefusal } from './refusals.js';
import { secretProof } from './secret.js';

/**
 * Joining a known domain through its seeds: the secret challenge when the policy asks for one, the
 * join request, the check of the seed's answer (a forged one is refused and counted), then the
 * announcement to the members and the start of this node's overlay in the domain.
 */
export class DomainJoiner {
  constructor(
    private readonly ctx: DomainContext,
    private readonly messenger: DomainMessenger,
    private readonly exchange: MemberExchange,
    private readonly startOverlay: (state: DomainState) => Promise<void>,
  ) {}

  /** Tries the domain's seeds in order until one admits this node or refuses it for good. */
  async throughSeeds(state: DomainState, options: JoinOptions): Promise<MembershipRecord> {
    const seeds = this.exchange.ordered(state.advert.nodes.filter((n) => n !== this.ctx.node));
    let lastError: Error = new UnknownDomainError(state.id);
    for (const seed of seeds) {
      options.signal?.throwIfAborted();
      try {
        return await this.through(state, seed, options);
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

  private async through(state: DomainState, seed: NodeId, options: JoinOptions): Promise<MembershipRecord> {
    const { messenger, exchange } = this;
    let proof: { challenge: Uint8Array; mac: Uint8Array } | undefined;
    if (state.advert.policy.kind === 'secret') {
      const reply = await messenger.ask(seed, { t: 'challenge', domain: state.id }, options.signal);
      if (reply.t !== 'challenge') throw joinRefusal(state.id, reply);
      if (state.secretKey === undefined)
        throw new JoinRefusedError(state.id, 'wrong-secret', 'no secret given');
      proof = {
        challenge: reply.challenge,
        mac: secretProof(state.secretKey, {
          domain: state.id,
          joiner: this.ctx.node,
          seed,
          challenge: reply.challenge,
        }),
      };
    }
    const invite = options.invite ? inviteToWire(options.invite) : undefined;
    const reply = await messenger.ask(seed, { t: 'join', domain: state.id, invite, proof }, options.signal);
    if (reply.t !== 'joined') throw joinRefusal(state.id, reply);
    let record: MembershipRecord;
    try {
      const advert = exchange.newerAdvert(state, reply.advert);
      record = verifyMembershipRecord(membershipRecordFromWire(reply.record), advert, {
        member: this.ctx.node,
      });
      state.advert = advert;
    } catch (error) {
      const forged = new ForgedJoinResponseError(
        state.id,
        error instanceof Error ? error.message : String(error),
        { cause: error },
      );
      this.ctx.refuse('forged-join-response', forged, state.id, seed);
      throw forged;
    }
    state.role = 'member';
    admitSelf(this.ctx, state, record);
    for (const pair of reply.members) exchange.ingestPair(state, pair, seed);
    exchange.announce(state, exchange.ownAnnouncement(state), undefined, [seed]);
    // A round trip to the seed after the announcement: the seed has passed it on to its active view
    // before our overlay Join makes it tell them about us.
    const barrier = await messenger
      .ask(seed, { t: 'members', domain: state.id }, options.signal)
      .catch(() => undefined);
    if (barrier?.t === 'members') for (const pair of barrier.members) exchange.ingestPair(state, pair, seed);
    await this.startOverlay(state);
    state.overlay?.join(seed);
    return record;
  }
}
