import { type AdvertisedAddress, type KeyPair, type NodeAdvert, signNodeAdvert } from '@netmachine/core';

/** Earlier addresses in the list are preferred: weights 200, 150, 100, … (never below 1). */
export function weightedAddresses(urls: readonly string[]): AdvertisedAddress[] {
  return urls.map((url, i) => ({ url, weight: Math.max(1, 200 - 50 * i) }));
}

/**
 * Signs this node's advert. The version is the signing time in ms, so every re-sign (a restart with
 * new ports, a changed address list) supersedes what peers hold without a stored counter.
 */
export function signOwnAdvert(key: KeyPair, urls: readonly string[], name?: string): NodeAdvert {
  const now = Date.now();
  return signNodeAdvert(key, { addrs: weightedAddresses(urls), version: now, created: now, name });
}
