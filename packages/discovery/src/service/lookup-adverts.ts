import type { DomainId, NodeAdvert, NodeId } from '@netmachine/core';
import type { DiscoveryEvent } from '../machines/discovery-node.js';
import { LookupFailedError } from './errors.js';
import type { Lookups } from './lookups.js';
import type { DiscoveryDirectory, DiscoveryDomains, LookupResult } from './options.js';
import type { AdvertsSideband } from './sideband.js';

/** How long an anycast waits for the domain advert that came with a lookup answer. */
const ADVERT_WAIT_MS = 3000;
/** How long a lookup answer waits for the announcement sent just before it. */
const ANNOUNCEMENT_WAIT_MS = 1000;

type LookupAnswer = Extract<DiscoveryEvent, { type: 'lookupResult' }>;

export interface LookupAdvertsOptions {
  readonly self: NodeId;
  readonly lookups: Lookups;
  readonly sideband: AdvertsSideband;
  readonly directory: DiscoveryDirectory;
  readonly domains: () => DiscoveryDomains | undefined;
  readonly localAdvert: () => NodeAdvert | undefined;
}

/**
 * The adverts a lookup brings: an answer settles this node's lookup once the adverts announced with it
 * have landed, and a found domain is handed to the domain service with its advert and members' adverts.
 */
export class LookupAdverts {
  readonly #o: LookupAdvertsOptions;

  constructor(options: LookupAdvertsOptions) {
    this.#o = options;
  }

  /** Settles the lookup the routing machine answered, with the members' adverts this node holds. */
  answered(event: LookupAnswer): void {
    const { lookups, sideband } = this.#o;
    const domain = lookups.domainOf(event.id);
    if (domain === undefined) return;
    const members = event.members.map((m) => m.peer as NodeId);
    // The announcement with the domain's and the members' adverts came just before the answer, to
    // another engine: let it land first (bounded wait), then the adverts reach the identity store.
    const announced =
      this.#o.domains()?.advert(domain) !== undefined
        ? Promise.resolve(undefined)
        : sideband.whenDomainAdvert(domain, ANNOUNCEMENT_WAIT_MS);
    void announced
      .then(() => Promise.all(members.map((m) => sideband.pending(m))))
      .then(() => {
        const adverts = members.flatMap((m) => {
          const a = m === this.#o.self ? this.#o.localAdvert() : this.#o.directory.node(m)?.advert;
          return a ? [a] : [];
        });
        lookups.answer(event.id, {
          domain,
          members,
          adverts,
          advert: sideband.domainAdvert(domain) ?? this.#o.domains()?.advert(domain),
          hops: event.hops,
          path: event.path as NodeId[],
        });
      });
  }

  /** Hands what a lookup of `domain` found (its advert, the members' adverts) to the domain service. */
  async learn(domains: DiscoveryDomains, domain: DomainId, found: LookupResult): Promise<void> {
    const { sideband } = this.#o;
    const advert =
      found.advert ?? domains.advert(domain) ?? (await sideband.whenDomainAdvert(domain, ADVERT_WAIT_MS));
    if (advert === undefined) throw new LookupFailedError(domain, 'the answer carried no domain advert');
    // Adverts announced with the answer may still be on their way into the identity store.
    await Promise.all([...found.members, ...advert.nodes].map((n) => sideband.pending(n)));
    const adverts = [...new Set([...found.members, ...advert.nodes])].flatMap((n) => {
      const a = this.#o.directory.node(n)?.advert;
      return a ? [a] : [];
    });
    await domains.know({ advert, seeds: adverts });
  }
}
