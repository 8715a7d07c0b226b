import { type DomainId, identityBytes, type KeyPair, type NodeId } from '@netmachine/core';
import { type DomainTopicAdvert, decodeDomainTopicAdvert, signDomainTopicAdvert } from './domain-topic.js';
import { advertId, keyString } from './tree-ids.js';

// The topic adverts a node holds, as the hot path reads them: keyed by the latin1 string of the
// topic's key bytes, with the authorized publishers as a set of key strings, so checking a batch
// costs two map lookups and no decoding. Adverts arrive rarely; their checks live here.

/** Topics a node holds adverts for unless `maxTopics` says otherwise; past it new topics are refused. */
const DEFAULT_MAX_TOPICS = 4096;

export interface TopicEntry {
  advert: DomainTopicAdvert;
  /** Authorized publisher keys as latin1 strings of their bytes (compared on the hot path). */
  publishers: Set<string>;
}

/** A new advert signed by the topic's key: `publishers` default to `self`, the version to now. */
export function newTopicAdvert(
  options: { topicKey: KeyPair; domain: DomainId; publishers?: readonly NodeId[]; version?: number },
  self: NodeId,
): DomainTopicAdvert {
  return signDomainTopicAdvert(options.topicKey, {
    domain: options.domain,
    publishers: options.publishers ?? [self],
    version: options.version ?? Date.now(),
    created: Date.now(),
  });
}

/** Stores `advert` unless an equal or newer version is held, or the table is full. Returns true when stored. */
export function storeAdvert(
  topics: Map<string, TopicEntry>,
  advert: DomainTopicAdvert,
  maxTopics = DEFAULT_MAX_TOPICS,
): boolean {
  const key = keyString(identityBytes(advert.topic));
  const known = topics.get(key);
  if (known !== undefined && known.advert.version >= advert.version) return false;
  if (known === undefined && topics.size >= maxTopics) return false;
  topics.set(key, {
    advert,
    publishers: new Set(advert.publishers.map((p) => keyString(identityBytes(p)))),
  });
  return true;
}

/**
 * The advert in a tree payload (after its tag) that came in under `id` on `domain`'s tree, or
 * undefined when it does not decode and verify, or its id or domain is not its own.
 */
export function advertFromTree(
  domain: DomainId,
  id: string,
  encoded: Uint8Array,
): DomainTopicAdvert | undefined {
  try {
    const advert = decodeDomainTopicAdvert(encoded);
    return advert.domain === domain && id === advertId(advert) ? advert : undefined;
  } catch {
    return undefined;
  }
}
