import type { DomainAdvert, DomainId, KeyPair, NodeAdvert, NodeId } from '@netmachine/core';
import { LeaveReplayError } from './errors.js';
import type { DomainOverlay } from './overlay.js';
import type { LeaveNotice, MemberInfo, MembershipRecord } from './records.js';

/** How this node stands in a domain: a member, or an observer that knows members and sends them requests. */
export type DomainRole = 'member' | 'observer';

export interface MemberEntry {
  info: MemberInfo;
  advert: NodeAdvert | undefined;
  /** Consecutive failures (connect, anycast); the entry is dropped after `MAX_FAILURES`. */
  failures: number;
  failedAt: number;
}

export const MAX_FAILURES = 3;

/** Bounded set of strings, oldest forgotten first. */
export class RecentSet {
  private readonly items = new Set<string>();
  constructor(private readonly capacity: number) {}
  has(item: string): boolean {
    return this.items.has(item);
  }
  add(item: string): void {
    if (this.items.size >= this.capacity) {
      const oldest = this.items.values().next().value;
      if (oldest !== undefined) this.items.delete(oldest);
    }
    this.items.add(item);
  }
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/**
 * What this node knows of one domain: its advert, its members (bounded; the passive view), the
 * removals and leaves applied, and this node's own standing.
 */
export class DomainState {
  role: DomainRole;
  advert: DomainAdvert;
  /** The domain key, when this node holds it (its creator). */
  domainKey: KeyPair | undefined;
  /** The HMAC key of a shared-secret domain, when this node knows the secret. */
  secretKey: Buffer | undefined;
  record: MembershipRecord | undefined;
  ownInfo: MemberInfo | undefined;
  readonly members = new Map<NodeId, MemberEntry>();
  /** Members this node keeps live connections to (HyParView's active view, as its events report it). */
  readonly active = new Set<NodeId>();
  /** The domain's overlay on this node, while a member. */
  overlay: DomainOverlay | undefined;
  /** Nodes this seed admitted lately: their overlay messages pass before their statement arrives. */
  readonly admitted: RecentSet;
  private readonly removals = new Map<NodeId, number>();
  private readonly leaves: RecentSet;
  lastRefresh = 0;

  constructor(
    advert: DomainAdvert,
    role: DomainRole,
    readonly maxMembers: number,
  ) {
    this.advert = advert;
    this.role = role;
    this.leaves = new RecentSet(maxMembers * 4);
    this.admitted = new RecentSet(256);
  }

  get id(): DomainId {
    return this.advert.id;
  }

  removedAt(node: NodeId): number | undefined {
    return this.removals.get(node);
  }

  /**
   * Adds or refreshes a member from a verified statement. Returns true when it is new or newer.
   * When the table is full, the entry with the most failures (then the oldest) gives way.
   */
  upsert(info: MemberInfo, advert: NodeAdvert | undefined): 'added' | 'updated' | 'stale' | 'full' {
    const node = info.record.member;
    const known = this.members.get(node);
    if (known !== undefined) {
      if (known.info.seq >= info.seq) return 'stale';
      known.info = info;
      if (advert !== undefined) known.advert = advert;
      known.failures = 0;
      return 'updated';
    }
    if (this.members.size >= this.maxMembers && !this.evictOne()) return 'full';
    this.members.set(node, { info, advert, failures: 0, failedAt: 0 });
    return 'added';
  }

  private evictOne(): boolean {
    let worst: [NodeId, MemberEntry] | undefined;
    for (const entry of this.members) {
      if (this.active.has(entry[0])) continue;
      if (worst === undefined || entry[1].failures > worst[1].failures) worst = entry;
    }
    if (worst === undefined) return false;
    this.members.delete(worst[0]);
    return true;
  }

  /** Notes a failure; drops the member after MAX_FAILURES in a row. Returns true when dropped. */
  fail(node: NodeId, now = Date.now()): boolean {
    const entry = this.members.get(node);
    if (entry === undefined) return false;
    entry.failures++;
    entry.failedAt = now;
    if (entry.failures < MAX_FAILURES || this.active.has(node)) return false;
    this.members.delete(node);
    return true;
  }

  succeed(node: NodeId): void {
    const entry = this.members.get(node);
    if (entry !== undefined) entry.failures = 0;
  }

  /**
   * Applies a verified leave: refused (LeaveReplayError) when already applied, or when it gives up
   * an admission other than the one the member now holds.
   */
  applyLeave(leave: LeaveNotice): void {
    const key = `${leave.member}/${hex(leave.serial)}`;
    const current = this.members.get(leave.member)?.info.record;
    if (this.leaves.has(key) || (current !== undefined && hex(current.serial) !== hex(leave.serial))) {
      throw new LeaveReplayError(this.id, leave.member);
    }
    this.leaves.add(key);
    this.members.delete(leave.member);
  }

  /** Applies a verified removal. Returns false when it adds nothing (already applied). */
  applyRemoval(member: NodeId, time: number): boolean {
    const known = this.removals.get(member);
    if (known !== undefined && known >= time) return false;
    if (this.removals.size >= this.maxMembers * 4 && known === undefined) {
      const oldest = this.removals.keys().next().value;
      if (oldest !== undefined) this.removals.delete(oldest);
    }
    this.removals.set(member, time);
    const entry = this.members.get(member);
    if (entry !== undefined && entry.info.record.issued <= time) this.members.delete(member);
    return true;
  }
}
