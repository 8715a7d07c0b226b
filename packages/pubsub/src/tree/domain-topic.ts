import {
  type DomainId,
  domainIdFromBytes,
  expectArray,
  expectBytes,
  expectUint,
  InvalidSignatureError,
  identityBytes,
  KEY_BYTES,
  type KeyPair,
  type NodeId,
  nodeIdFromBytes,
  pack,
  SchemaError,
  SIGNATURE_BYTES,
  type TopicId,
  topicIdFromBytes,
  unpack,
  verifySignature,
} from '@netmachine/core';

/** Most publishers one domain topic may name. */
export const MAX_TOPIC_PUBLISHERS = 64;
const LABEL = 'netmachine/domain-topic-advert/1';

/**
 * A topic scoped to a domain, signed by the topic's key: its events travel over that domain's
 * overlay, and only the keys in `publishers` may publish (each signs its own event batches).
 * A higher `version` replaces a lower one (to add or remove publishers).
 */
export interface DomainTopicAdvert {
  readonly topic: TopicId;
  readonly domain: DomainId;
  /** Keys allowed to publish (node keys here: a node publishes with its own key). */
  readonly publishers: readonly NodeId[];
  readonly version: number;
  readonly created: number;
  readonly sig: Uint8Array;
}

type Fields = Omit<DomainTopicAdvert, 'sig' | 'topic'>;

function signedBytes(topic: TopicId, f: Fields): Buffer {
  return pack([
    LABEL,
    identityBytes(topic),
    identityBytes(f.domain),
    f.publishers.map((p) => identityBytes(p)),
    f.version,
    f.created,
  ]);
}

export function signDomainTopicAdvert(topicKey: KeyPair, fields: Fields): DomainTopicAdvert {
  if (fields.publishers.length === 0 || fields.publishers.length > MAX_TOPIC_PUBLISHERS)
    throw new SchemaError('publishers', `1..${MAX_TOPIC_PUBLISHERS} publishers`);
  const topic = topicKey.topicId;
  return {
    ...fields,
    topic,
    publishers: [...fields.publishers],
    sig: topicKey.sign(signedBytes(topic, fields)),
  };
}

export function verifyDomainTopicAdvert(advert: DomainTopicAdvert): boolean {
  return verifySignature(identityBytes(advert.topic), signedBytes(advert.topic, advert), advert.sig);
}

/** The advert as bytes (msgpack), for the wire and for storage. */
export function encodeDomainTopicAdvert(a: DomainTopicAdvert): Buffer {
  return pack([
    identityBytes(a.topic),
    identityBytes(a.domain),
    a.publishers.map((p) => identityBytes(p)),
    a.version,
    a.created,
    a.sig,
  ]);
}

/** Reads and verifies an advert; a bad shape is a SchemaError, a bad signature an InvalidSignatureError. */
export function decodeDomainTopicAdvert(bytes: Uint8Array): DomainTopicAdvert {
  const v = expectArray(unpack(bytes), 'domainTopicAdvert', 6, 6);
  const advert: DomainTopicAdvert = {
    topic: topicIdFromBytes(expectBytes(v[0], 'topic', KEY_BYTES)),
    domain: domainIdFromBytes(expectBytes(v[1], 'domain', KEY_BYTES)),
    publishers: expectArray(v[2], 'publishers', 1, MAX_TOPIC_PUBLISHERS).map((p, i) =>
      nodeIdFromBytes(expectBytes(p, `publishers[${i}]`, KEY_BYTES)),
    ),
    version: expectUint(v[3], 'version'),
    created: expectUint(v[4], 'created'),
    sig: expectBytes(v[5], 'sig', SIGNATURE_BYTES),
  };
  if (!verifyDomainTopicAdvert(advert))
    throw new InvalidSignatureError(`domain topic advert ${advert.topic}`);
  return advert;
}
