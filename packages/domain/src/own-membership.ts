import { type DomainAdvert, NetmachineError } from '@netmachine/core';
import type { DomainContext } from './context.js';
import { DomainState } from './membership.js';
import { type MembershipRecord, signMemberInfo } from './records.js';

// This node's own place in its domains: the state kept per known domain (bounded by maxDomains), the
// node's admission as a member, and which of the domain's engines it runs.

/** The state of the advert's domain, made (as member or observer) if this node did not know it yet. */
export function stateFor(ctx: DomainContext, advert: DomainAdvert, role: 'member' | 'observer'): DomainState {
  const { states, limits } = ctx;
  const known = states.get(advert.id);
  if (known !== undefined) {
    if (advert.version > known.advert.version) known.advert = advert;
    if (role === 'member') known.role = role;
    return known;
  }
  if (states.size >= limits.maxDomains)
    throw new NetmachineError('ERR_TOO_MANY_DOMAINS', `at most ${limits.maxDomains} domains`);
  const state = new DomainState(advert, role, limits.maxMembers);
  states.set(advert.id, state);
  return state;
}

/** Makes this node a member with `record`, and signs the statement of the engines it runs. */
export function admitSelf(ctx: DomainContext, state: DomainState, record: MembershipRecord): void {
  state.role = 'member';
  state.record = record;
  state.ownInfo = signMemberInfo(ctx.options.keyPair, record, localEngines(ctx, state));
}

/** The domain's engines that run on this node now. */
export function localEngines(ctx: DomainContext, state: DomainState): string[] {
  return state.advert.protocols.filter((name) => ctx.options.router.engine(name) !== undefined);
}
