// Names and versions on the wire of the inter-domain discovery protocols.

/** The wire names of the inter-domain discovery protocols. */
export const DISCOVERY_PROTOCOLS = {
  /** Trust-aware peer sampling. */
  taps: 'taps/1',
  /** Trust-aware clustering by domain membership similarity. */
  tac: 'tac/1',
  /** Greedy lookup of a domain's members. */
  route: 'domain-route/1',
} as const;
