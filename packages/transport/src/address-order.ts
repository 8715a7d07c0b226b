import type { AdvertisedAddress, NodeAdvert } from '@netmachine/core';

/** The protocol (URL scheme) of an address, or undefined when it is not a URL. */
export function addressProtocol(url: string): string | undefined {
  const match = /^([a-z][a-z0-9+.-]*):\/\//.exec(url);
  return match?.[1];
}

export interface AddressChoice {
  /** Protocols in order of preference from the message (first choice). */
  readonly messagePrefs?: readonly string[] | undefined;
  /** … else from the node's record. */
  readonly nodePrefs?: readonly string[] | undefined;
  /** … else the configured default order (also breaks ties for protocols the others do not name). */
  readonly defaultOrder: readonly string[];
  /** Protocols we have a transport for. */
  readonly available: ReadonlySet<string>;
}

/**
 * The addresses of a node to try, best first. The first non-empty preference list (message, node
 * record, config) ranks protocols; unnamed protocols follow in config order; within a protocol the
 * advert's weight decides (higher first), then the advert's own order. Addresses whose protocol we
 * cannot speak are left out.
 */
export function orderAddresses(advert: NodeAdvert | undefined, choice: AddressChoice): AdvertisedAddress[] {
  if (advert === undefined) return [];
  const prefs = [choice.messagePrefs, choice.nodePrefs, choice.defaultOrder].find(
    (list) => list !== undefined && list.length > 0,
  );
  const rank = (protocol: string): number => {
    const preferred = prefs?.indexOf(protocol) ?? -1;
    if (preferred >= 0) return preferred;
    const fallback = choice.defaultOrder.indexOf(protocol);
    return 1000 + (fallback >= 0 ? fallback : 999);
  };
  return advert.addrs
    .map((address, index) => ({ address, index, protocol: addressProtocol(address.url) }))
    .filter(
      (x): x is typeof x & { protocol: string } =>
        x.protocol !== undefined && choice.available.has(x.protocol),
    )
    .sort(
      (a, b) =>
        rank(a.protocol) - rank(b.protocol) || b.address.weight - a.address.weight || a.index - b.index,
    )
    .map((x) => x.address);
}
