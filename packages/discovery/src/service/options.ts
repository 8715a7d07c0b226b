import type {
  AnycastAddress,
  DomainAdvert,
  DomainId,
  KeyPair,
  Logger,
  NodeAdvert,
  NodeDirectory,
  NodeId,
} from '@netmachine/core';
import type { RunnerTransport } from '@netmachine/overlay';
import type { BlipParams } from '../blip.js';
import type { DiscoveryConfig } from '../machines/discovery-node.js';
import type { PsiExchangeRouter } from './psi-exchange.js';

/**
 * The node directory as discovery uses it: the identity store keeps the adverts discovery learns and
 * the trust it holds in peers (its reputation moves with what peers send).
 */
export interface DiscoveryDirectory extends NodeDirectory {
  offerDomainAdvert?(advert: DomainAdvert): Promise<boolean>;
  adjustReputation?(id: NodeId, delta: number): Promise<void>;
}

/**
 * The node's domains, as discovery needs them (structural: `DomainService` from @netmachine/domain
 * fits): which domains the node is a member of, their adverts, and a way to make a domain that a lookup
 * found reachable for anycast.
 */
export interface DiscoveryDomains {
  list(): readonly { readonly id: DomainId; readonly role: 'member' | 'observer' }[];
  advert(domain: DomainId): DomainAdvert | undefined;
  /** Learns a domain from its advert and some members' adverts, without joining. */
  know(ticket: { readonly advert: DomainAdvert; readonly seeds: readonly NodeAdvert[] }): Promise<DomainId>;
  candidates(dst: AnycastAddress): readonly NodeId[];
}

/** The router as discovery uses it (structural: `Router` from @netmachine/router fits). */
export interface DiscoveryRouter extends PsiExchangeRouter {
  readonly node: NodeId;
}

export interface DiscoveryOptions {
  /**
   * Take part in the inter-domain protocols (default true). A node that does not never signs a
   * sampling entry, so it never appears in another node's inter-domain view; it answers no PSI and
   * forwards no lookup; its own `lookup` rejects with NotParticipatingError.
   */
  participate?: boolean;
  /** Domains kept out of inter-domain discovery: never in this node's filter, PSI set or lookup answers. */
  internalOnly?: readonly DomainId[];
  /** BLIP filter parameters (default DEFAULT_BLIP_PARAMS); every participant must use the same. */
  blip?: BlipParams;
  /** Settings of the TAPS, TAC and routing machines. */
  machines?: Partial<Omit<DiscoveryConfig, 'optedOut'>>;
  /** Peers to start gossip with (their adverts must be in the directory), besides connected peers. */
  bootstrap?: readonly NodeId[];
  /**
   * How long a signed sampling entry is taken in after it was issued (default 1 h): older ones are
   * dropped by the machines, and this node re-signs its own after half of it.
   */
  entryTtlMs?: number;
  /** How often the service checks its domains and peers (default 1 s). */
  tickMs?: number;
  /** Time for one lookup (default 15 s). */
  lookupTimeoutMs?: number;
  /** Time for one PSI exchange (default 10 s). */
  psiTimeoutMs?: number;
  /** Half-done PSI exchanges a responder keeps (default 32). */
  maxPsiSessions?: number;
  /** PSI requests answered per peer per minute (default 6): each answer reveals membership of the domains asked about. */
  psiPerPeerPerMinute?: number;
  /** Largest domain set in PSI (default PSI_LIMITS.maxSetSize). */
  maxPsiSetSize?: number;
  /** Lookup results kept for anycast (default 64 domains). */
  maxKnownDomains?: number;
}

export interface DiscoveryServiceOptions extends DiscoveryOptions {
  router: DiscoveryRouter;
  keyPair: KeyPair;
  directory: DiscoveryDirectory;
  logger?: Logger;
  /** Given here or later with `attach`. */
  transport?: RunnerTransport;
  domains?: DiscoveryDomains;
  localAdvert?: () => NodeAdvert | undefined;
}

/** What `lookup` finds: members of the domain, their adverts, and the way the lookup went. */
export interface LookupResult {
  readonly domain: DomainId;
  readonly members: readonly NodeId[];
  /** The members' adverts this node now holds (in the identity store too). */
  readonly adverts: readonly NodeAdvert[];
  /** The domain's signed advert, when the answering member sent it. */
  readonly advert: DomainAdvert | undefined;
  /** Hops from this node to the member that answered. */
  readonly hops: number;
  /** The nodes the lookup went through, this node first. */
  readonly path: readonly NodeId[];
}
