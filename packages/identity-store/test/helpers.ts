import {
  type DomainAdvert,
  type EngineAdvert,
  KeyPair,
  type NodeAdvert,
  type NodeId,
  signDomainAdvert,
  signEngineAdvert,
  signNodeAdvert,
  signTopicAdvert,
  type TopicAdvert,
} from '@netmachine/core';

export function nodeAdvert(
  key: KeyPair,
  version: number,
  addrs = [{ url: 'tls://127.0.0.1:7100', weight: 10 }],
  created = Date.now(),
): NodeAdvert {
  return signNodeAdvert(key, { addrs, version, created });
}

export function engineAdvert(nodeKey: KeyPair, name: string, version: number): EngineAdvert {
  return signEngineAdvert(nodeKey, { name, version, created: Date.now() });
}

export function topicAdvert(topicKey: KeyPair, publisher: KeyPair, version: number): TopicAdvert {
  return signTopicAdvert(topicKey, {
    publisher: { node: publisher.id, name: 'pub' },
    tags: ['news'],
    version,
    created: Date.now(),
  });
}

export function domainAdvert(domainKey: KeyPair, members: KeyPair[], version: number): DomainAdvert {
  return signDomainAdvert(domainKey, {
    name: 'test',
    policy: { kind: 'open' },
    nodes: members.map((k) => k.id),
    protocols: [],
    version,
    created: Date.now(),
  });
}

export const newKey = (): KeyPair => KeyPair.generate();
export const idOf = (key: KeyPair): NodeId => key.id;
