import type {
  DomainAdvert,
  DomainId,
  JoinPolicy,
  KeyPair,
  Logger,
  NodeAdvert,
  NodeDirectory,
  NodeId,
} from '@netmachine/core';
import type { HyParViewConfig } from '@netmachine/overlay';
import type { Router } from '@netmachine/router';
import type { DomainLinks } from './links.js';
import type { InviteToken } from './records.js';

/** The node directory as the domain service uses it; the identity store also keeps domain adverts. */
export interface DomainNodeDirectory extends NodeDirectory {
  offerDomainAdvert?(advert: DomainAdvert): Promise<boolean>;
}

export interface DomainServiceOptions {
  router: Router;
  keyPair: KeyPair;
  directory: DomainNodeDirectory;
  /** The Transport engine; may be given later with `attach` (a node assembly builds services first). */
  links?: DomainLinks;
  /** This node's own advert (handed to joiners and put in tickets). */
  localAdvert?: () => NodeAdvert | undefined;
  logger?: Logger;
  /** HyParView's settings for every domain's overlay (active view 5, passive view 30 by default). */
  overlay?: Partial<HyParViewConfig>;
  /** Members remembered per domain (the passive view; default 1024). */
  maxMembers?: number;
  /** Domains this node may be in or know (default 64). */
  maxDomains?: number;
  /** How often members re-state their engines and observers refresh their member lists (default 1 s). */
  tickMs?: number;
  /** How often an observer asks a member for the member list (default 5 s). */
  refreshMs?: number;
  /** Time for one join or member-list request (default 5 s). */
  requestTimeoutMs?: number;
  /** A member that failed an anycast is tried last for this long (default 10 s). */
  failurePenaltyMs?: number;
}

export interface CreateDomainOptions {
  name: string;
  policy?: JoinPolicy;
  /** Engine names the domain runs: anycast reaches members running one of them. */
  protocols?: readonly string[];
  /** The shared secret, for policy `secret` (this node, a seed, checks proofs with it). */
  secret?: string;
  /** Other seed nodes besides this one. */
  seeds?: readonly NodeId[];
  /** The domain key; a new one is made when omitted. Keep it to remove members or re-advertise. */
  key?: KeyPair;
}

export interface JoinOptions {
  /** An invite for an invite-only domain. */
  invite?: InviteToken;
  /** The shared secret of a secret domain (never sent: only a proof over a fresh challenge). */
  secret?: string;
  signal?: AbortSignal;
}

export interface DomainSummary {
  readonly id: DomainId;
  readonly name: string;
  readonly role: 'member' | 'observer';
  readonly policy: JoinPolicy['kind'];
  readonly protocols: readonly string[];
  readonly owner: boolean;
  readonly members: number;
  readonly activeView: readonly NodeId[];
  readonly passiveView: number;
}

export interface MemberSummary {
  readonly node: NodeId;
  /** This node itself. */
  readonly self: boolean;
  readonly engines: readonly string[];
  readonly issuer: string;
  readonly issued: number;
  readonly connected: boolean;
  readonly inActiveView: boolean;
  readonly rttMs?: number | undefined;
}
