import type { NodeId } from '@netmachine/core';
import type { JoinRefusal } from './errors.js';
import type { DomainState } from './membership.js';
import type { DomainRequest } from './protocol.js';
import { inviteFromWire, verifyInvite } from './records.js';
import { type ChallengeBook, proofMatches, secretProof } from './secret.js';

const MAX_USED_INVITES = 4096;

/** Invites a seed has admitted someone with: one joiner per invite. Bounded, oldest forgotten. */
export class UsedInvites {
  private readonly used = new Map<string, NodeId>();

  /** Records `joiner` for the invite; false when another node used it already. */
  use(nonce: Uint8Array, joiner: NodeId): boolean {
    const key = Buffer.from(nonce).toString('hex');
    const usedBy = this.used.get(key);
    if (usedBy !== undefined) return usedBy === joiner;
    if (this.used.size >= MAX_USED_INVITES) this.used.delete(this.used.keys().next().value as string);
    this.used.set(key, joiner);
    return true;
  }
}

/**
 * Checks a join request against the domain's policy, at a seed. Returns why it is refused, or
 * undefined when the joiner may be admitted.
 */
export function checkPolicy(
  state: DomainState,
  from: NodeId,
  request: Extract<DomainRequest, { t: 'join' }>,
  seed: { self: NodeId; challenges: ChallengeBook; usedInvites: UsedInvites },
): { reason: JoinRefusal; detail: string } | undefined {
  const policy = state.advert.policy;
  switch (policy.kind) {
    case 'open':
      return undefined;
    case 'allow':
      return policy.nodes.includes(from)
        ? undefined
        : { reason: 'not-allowed', detail: 'not on the allow-list' };
    case 'invite': {
      if (request.invite === undefined) return { reason: 'invalid-invite', detail: 'no invite' };
      try {
        const token = inviteFromWire(request.invite);
        verifyInvite(token, state.advert, from);
        if (!seed.usedInvites.use(token.nonce, from))
          return { reason: 'invalid-invite', detail: 'already used' };
        return undefined;
      } catch (error) {
        return { reason: 'invalid-invite', detail: (error as Error).message };
      }
    }
    case 'secret': {
      if (state.secretKey === undefined)
        return { reason: 'not-a-seed', detail: 'this seed does not hold the secret' };
      const proof = request.proof;
      if (proof === undefined || !seed.challenges.take(state.id, from, proof.challenge))
        return { reason: 'no-challenge', detail: 'no fresh challenge' };
      const expected = secretProof(state.secretKey, {
        domain: state.id,
        joiner: from,
        seed: seed.self,
        challenge: proof.challenge,
      });
      return proofMatches(expected, proof.mac)
        ? undefined
        : { reason: 'wrong-secret', detail: 'proof does not match' };
    }
  }
}
