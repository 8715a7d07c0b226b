import { type NodeId, nodeIdFromBytes, type TopicId, topicIdFromBytes } from '@netmachine/core';
import { type DomainTopicAdvert, encodeDomainTopicAdvert } from './domain-topic.js';
import type { TreeBatch } from './tree-batch.js';

// How the domain tree names what it carries: ids of batches, heartbeats and adverts on the wire, and
// the string keys this node files topics, publishers and streams under. Kept apart so the rules for
// an id are read (and changed) in one place.

/** A payload in the tree that is a topic advert, not a batch of events (batches start with their version, 2). */
export const ADVERT_TAG = 0xa1;

/** The tree payload of an advert: its tag, then its encoding. */
export function advertPayload(advert: DomainTopicAdvert): Uint8Array {
  const bytes = encodeDomainTopicAdvert(advert);
  const payload = new Uint8Array(bytes.length + 1);
  payload[0] = ADVERT_TAG;
  payload.set(bytes, 1);
  return payload;
}

/** A key's bytes as a latin1 string: one string per key, so a map lookup hashes it once. */
export function keyString(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
}

/** The key of a publisher's stream on a topic: `<topic>/<publisher>`, both in base64url. */
function streamKey(topic: Uint8Array, publisher: Uint8Array): string {
  const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64url');
  return `${b64(topic)}/${b64(publisher)}`;
}

/** The topic and publisher keys of a stream key (`<topic>/<publisher>`). */
export function parseStreamKey(stream: string): { topic: Buffer; publisher: Buffer } {
  const [topicText, publisherText] = stream.split('/') as [string, string];
  return { topic: Buffer.from(topicText, 'base64url'), publisher: Buffer.from(publisherText, 'base64url') };
}

/** A batch's topic and publisher in text form, and its stream key. */
export interface StreamNames {
  readonly topic: TopicId;
  readonly publisher: NodeId;
  readonly stream: string;
}

/** Works out a batch's names (callers keep them per (topic, publisher): this is the cache miss). */
export function streamNamesOf(batch: TreeBatch): StreamNames {
  return {
    topic: topicIdFromBytes(batch.topic),
    publisher: nodeIdFromBytes(batch.publisher),
    stream: streamKey(batch.topic, batch.publisher),
  };
}

/** The id of a batch, or of a heartbeat repeating it (`<id>~<n>`). */
export function sameBatch(id: string, batchId: string): boolean {
  if (id === batchId) return true;
  return id.length === batchId.length + 2 && id.startsWith(`${batchId}~`) && /^[1-9]$/.test(id.slice(-1));
}

/** The batch number of a batch id (`<source>/<base-36 number>`); undefined for heartbeats and adverts. */
export function batchNumberOf(id: string): number | undefined {
  const tail = id.slice(id.lastIndexOf('/') + 1);
  return /^[0-9a-z]{1,10}$/.test(tail) ? Number.parseInt(tail, 36) : undefined;
}

export function advertId(advert: DomainTopicAdvert): string {
  return `advert.${advert.topic}/${advert.version}`;
}
