import {
  type DomainAdvert,
  domainAdvertFromWire,
  domainAdvertToWire,
  expectArray,
  type NodeAdvert,
  type NodeId,
  nodeAdvertFromWire,
  nodeAdvertToWire,
  verifyDomainAdvert,
  verifyNodeAdvert,
} from '@netmachine/core';

// Gossip names peers by id; to reach one a node needs its signed NodeAdvert (its addresses), and to
// use a domain a lookup found it needs the domain's signed advert. These travel beside the protocol's
// own messages, on the same link and just before them (per-link order), in one `adverts` message:
// every advert is verified on arrival, bad ones are refused and counted, good ones go to the identity
// store, which keeps the newest of each.

/** The engine that takes advert announcements on every participating node. */
export const ADVERTS_ENGINE = 'discovery.adverts';
/** The announcement's protocol name on the wire. */
export const ADVERTS_PROTOCOL = 'discovery-adverts/1';
/** Most node adverts in one announcement. */
export const MAX_NODE_ADVERTS = 40;
/** Most domain adverts in one announcement. */
export const MAX_DOMAIN_ADVERTS = 4;

export interface AdvertBundle {
  readonly nodes: readonly NodeAdvert[];
  readonly domains: readonly DomainAdvert[];
}

export function encodeAdverts(bundle: AdvertBundle): unknown {
  return {
    t: 'adverts',
    nodes: bundle.nodes.slice(0, MAX_NODE_ADVERTS).map(nodeAdvertToWire),
    domains: bundle.domains.slice(0, MAX_DOMAIN_ADVERTS).map(domainAdvertToWire),
  };
}

/**
 * Reads an announcement: the adverts whose signatures verify, and how many were refused (bad shape or
 * bad signature). Throws (a schema error) only when the announcement itself is malformed or oversized.
 */
export function decodeAdverts(value: unknown): AdvertBundle & { refused: number } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { nodes: [], domains: [], refused: 1 };
  }
  const record = value as Record<string, unknown>;
  const nodes: NodeAdvert[] = [];
  const domains: DomainAdvert[] = [];
  let refused = 0;
  expectArray(record.nodes, 'adverts.nodes', 0, MAX_NODE_ADVERTS).forEach((wire, i) => {
    try {
      nodes.push(verifyNodeAdvert(nodeAdvertFromWire(wire, `adverts.nodes[${i}]`)));
    } catch {
      refused++;
    }
  });
  expectArray(record.domains, 'adverts.domains', 0, MAX_DOMAIN_ADVERTS).forEach((wire, i) => {
    try {
      domains.push(verifyDomainAdvert(domainAdvertFromWire(wire, `adverts.domains[${i}]`)));
    } catch {
      refused++;
    }
  });
  return { nodes, domains, refused };
}

/**
 * Remembers which adverts (by node and version) were sent to which peer, so a busy link does not carry
 * the same advert every exchange. Bounded: the oldest peer is forgotten first.
 */
export class SentAdverts {
  readonly #sent = new Map<NodeId, Map<string, number>>();

  constructor(
    private readonly maxPeers = 256,
    private readonly maxPerPeer = 256,
  ) {}

  /** The adverts among `adverts` that `peer` has not been sent yet (and marks them sent). */
  fresh<A extends { readonly id: string; readonly version: number }>(
    peer: NodeId,
    adverts: readonly A[],
  ): A[] {
    let seen = this.#sent.get(peer);
    if (seen === undefined) {
      if (this.#sent.size >= this.maxPeers) {
        const oldest = this.#sent.keys().next().value;
        if (oldest !== undefined) this.#sent.delete(oldest);
      }
      seen = new Map();
      this.#sent.set(peer, seen);
    }
    const out: A[] = [];
    for (const advert of adverts) {
      if ((seen.get(advert.id) ?? -1) >= advert.version) continue;
      if (seen.size >= this.maxPerPeer) seen.clear();
      seen.set(advert.id, advert.version);
      out.push(advert);
    }
    return out;
  }

  /** Forgets a peer (its connection closed: it may have lost what it had). */
  forget(peer: NodeId): void {
    this.#sent.delete(peer);
  }
}
