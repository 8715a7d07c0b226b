import {
  type DomainAdvert,
  domainAdvertFromWire,
  InvalidSignatureError,
  type NodeAdvert,
  type NodeId,
  nodeAdvertFromWire,
  nodeAdvertToWire,
  verifyDomainAdvert,
  verifyNodeAdvert,
} from '@netmachine/core';
import type { DomainContext } from './context.js';
import { InvalidMembershipRecordError, NotAMemberError } from './errors.js';
import type { DomainState } from './membership.js';
import type { DomainMessenger } from './messenger.js';
import { type DomainRequest, MAX_MEMBERS_PER_MESSAGE } from './protocol.js';
import { type MemberInfo, memberInfoFromWire, memberInfoToWire, verifyMemberInfo } from './records.js';
import { memberOf, refusalOf } from './refusals.js';

/**
 * What members say about themselves and each other: statements checked against the domain's advert
 * and merged into its member table, member lists sampled for others, and notices flooded over the
 * active view.
 */
export class MemberExchange {
  constructor(
    private readonly ctx: DomainContext,
    private readonly messenger: DomainMessenger,
  ) {}

  /** A statement the sender makes about itself: it must carry a valid record for the sender. */
  ingestClaim(state: DomainState, from: NodeId, value: unknown): MemberInfo | undefined {
    let info: MemberInfo;
    try {
      info = memberInfoFromWire(value);
      if (info.record.member !== from) throw new NotAMemberError(state.id, from);
      verifyMemberInfo(info, state.advert, state.removedAt(from));
    } catch (error) {
      const notMember = new NotAMemberError(state.id, from);
      this.ctx.refuse('not-a-member', error instanceof NotAMemberError ? error : notMember, state.id, from);
      return undefined;
    }
    const result = state.upsert(info, undefined);
    if (result === 'added') this.ctx.events.emit({ type: 'MemberAdded', domain: state.id, node: from });
    return info;
  }

  /** `[info, advert]` from a member list or announcement; counted and skipped when invalid. */
  ingestPair(state: DomainState, pair: unknown, from: NodeId): ReturnType<DomainState['upsert']> | 'invalid' {
    try {
      if (!Array.isArray(pair) || pair.length !== 2)
        throw new InvalidMembershipRecordError(state.id, 'bad entry');
      const info = verifyMemberInfo(
        memberInfoFromWire(pair[0]),
        state.advert,
        state.removedAt(memberOf(pair[0])),
      );
      if (info.record.member === this.ctx.node) return 'stale';
      let advert: NodeAdvert | undefined;
      if (pair[1] !== null && pair[1] !== undefined) {
        advert = verifyNodeAdvert(nodeAdvertFromWire(pair[1]));
        if (advert.id !== info.record.member) throw new InvalidSignatureError('node advert of another node');
        void this.ctx.options.directory.offerNodeAdvert(advert).catch(() => false);
      }
      const result = state.upsert(info, advert);
      if (result === 'full')
        this.ctx.refuse(
          'members-full',
          new InvalidMembershipRecordError(state.id, 'member table full'),
          state.id,
          from,
        );
      return result;
    } catch (error) {
      this.ctx.refuse(refusalOf(error), error as Error, state.id, from);
      return 'invalid';
    }
  }

  /** The advert in a reply when it is the same domain's, validly signed and newer; else the known one. */
  newerAdvert(state: DomainState, value: unknown): DomainAdvert {
    if (value === null || value === undefined) return state.advert;
    const advert = domainAdvertFromWire(value);
    if (advert.id !== state.id) throw new InvalidSignatureError(`advert of another domain ${advert.id}`);
    try {
      verifyDomainAdvert(advert);
    } catch (error) {
      this.ctx.refuse('invalid-advert', error as Error, state.id, undefined);
      throw error;
    }
    if (advert.version > state.advert.version) {
      void this.ctx.options.directory.offerDomainAdvert?.(advert).catch(() => false);
      return advert;
    }
    return state.advert;
  }

  /** Up to MAX_MEMBERS_PER_MESSAGE `[info, advert]` pairs: this node first, then a random sample. */
  sample(state: DomainState, except: NodeId | undefined): unknown[] {
    const pairs: unknown[] = [];
    if (state.ownInfo !== undefined) {
      const own = this.ctx.options.localAdvert?.();
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
      const advert = entry.advert ?? this.ctx.options.directory.node(entry.info.record.member)?.advert;
      pairs.push([memberInfoToWire(entry.info), advert ? nodeAdvertToWire(advert) : null]);
    }
    return pairs;
  }

  /** Floods a notice over the active view (and `extra`), except back to where it came from. */
  announce(state: DomainState, request: DomainRequest, from: NodeId | undefined, extra: NodeId[]): void {
    for (const node of new Set([...state.active, ...extra])) {
      if (node === from || node === this.ctx.node) continue;
      this.ctx.counters.announcementsForwarded++;
      this.messenger.sendTo(node, request);
    }
  }

  /** This node's statement with its advert, as the announcement a member floods. */
  ownAnnouncement(state: DomainState): DomainRequest {
    const advert = this.ctx.options.localAdvert?.();
    return {
      t: 'announce',
      domain: state.id,
      info: memberInfoToWire(state.ownInfo as MemberInfo),
      advert: advert ? nodeAdvertToWire(advert) : undefined,
    };
  }

  /** Connected nodes first, then the rest, in the given order. */
  ordered(nodes: readonly NodeId[]): NodeId[] {
    const connected = new Set(this.ctx.options.links.connectedNodes());
    return [...nodes.filter((n) => connected.has(n)), ...nodes.filter((n) => !connected.has(n))];
  }
}
