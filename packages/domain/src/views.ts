import type { NodeId } from '@netmachine/core';
import type { DomainLinks } from './links.js';
import type { DomainState } from './membership.js';
import type { DomainSummary, MemberSummary } from './options.js';
import type { MemberInfo } from './records.js';

/** Members one anycast may try at most. */
const MAX_CANDIDATES = 16;

type Measures = Pick<DomainLinks, 'connectedNodes' | 'rtt'>;

/**
 * The members an anycast to `name` tries, best first: this node when it is a member running `name`,
 * then connected members, lower round-trip time first (unmeasured after measured), members that
 * failed within `penaltyMs` last. An observer that has learned no member yet tries the seeds.
 */
export function rankCandidates(
  state: DomainState,
  name: string,
  self: NodeId,
  links: Measures,
  penaltyMs: number,
  now = Date.now(),
): NodeId[] {
  const connected = new Set(links.connectedNodes());
  const scored: { node: NodeId; penalty: number; rtt: number }[] = [];
  for (const [node, entry] of state.members) {
    if (!entry.info.engines.includes(name)) continue;
    const penalty = now - entry.failedAt < penaltyMs ? 2 : connected.has(node) ? 0 : 1;
    scored.push({ node, penalty, rtt: links.rtt(node) ?? Number.MAX_VALUE });
  }
  scored.sort((a, b) => a.penalty - b.penalty || a.rtt - b.rtt);
  const result = scored.slice(0, MAX_CANDIDATES).map((s) => s.node);
  if (state.role === 'member' && state.ownInfo?.engines.includes(name)) result.unshift(self);
  if (result.length === 0 && state.role === 'observer') return state.advert.nodes.filter((n) => n !== self);
  return result;
}

export function summarize(s: DomainState): DomainSummary {
  return {
    id: s.id,
    name: s.advert.name,
    role: s.role,
    policy: s.advert.policy.kind,
    protocols: s.advert.protocols,
    owner: s.domainKey !== undefined,
    members: s.members.size + (s.role === 'member' ? 1 : 0),
    activeView: [...s.active],
    passiveView: s.overlay?.passiveView().length ?? 0,
  };
}

/** This node (when a member) and every member it knows, with how it stands to each. */
export function memberRows(state: DomainState, self: NodeId, links: Measures): MemberSummary[] {
  const connected = new Set(links.connectedNodes());
  const row = (info: MemberInfo): MemberSummary => ({
    node: info.record.member,
    self: info.record.member === self,
    engines: info.engines,
    issuer: info.record.issuer,
    issued: info.record.issued,
    connected: connected.has(info.record.member),
    inActiveView: state.active.has(info.record.member),
    rttMs: links.rtt(info.record.member),
  });
  const rows: MemberSummary[] = [];
  if (state.ownInfo !== undefined && state.role === 'member') rows.push(row(state.ownInfo));
  for (const entry of state.members.values()) rows.push(row(entry.info));
  return rows;
}
