import {
  EncodedBody,
  type EngineAddress,
  expectArray,
  expectBytes,
  expectString,
  expectUint,
  identityBytes,
  isEngineName,
  isKeyText,
  type KeyPair,
  MAX_PROTOCOL_LENGTH,
  type NodeId,
  optional,
  pack,
  SchemaError,
  SIGNATURE_BYTES,
  type TopicId,
  verifySignature,
} from '@netmachine/core';
import { packPlain } from '@netmachine/transport/wire';

/** The name of the pubsub engine on every node: pubsub engines talk to each other under it. */
export const PUBSUB_ENGINE = 'pubsub';

/** Router protocols spoken between pubsub engines. Bodies are plain arrays (compact, deterministic). */
export const PubSubProtocol = {
  /**
   * Request `[topic, flags]` → reply `[status, epoch, seq, lastSent|null, window]`. Flag bit 0: the
   * subscriber wants events signed (it verifies them).
   */
  Subscribe: 'pubsub/subscribe@1',
  /** Request `[topic]` → reply `[status]`. */
  Unsubscribe: 'pubsub/unsubscribe@1',
  /** One topic event, publisher node → subscriber node (see `EventFields`). */
  Event: 'pubsub/event@1',
  /**
   * Consecutive events of one topic sent to one node in one turn (see `packEventRun`): the fields
   * they share once, then body, expiry and signature of each, then `n`, the link number of the last
   * (the others count up to it). One frame, one ack step and one TLS write carry them all; each is
   * checked and delivered as if it had come alone.
   */
  Events: 'pubsub/events@1',
  /** Cumulative acknowledgement `[n]`: every event up to link number `n` was received. */
  Ack: 'pubsub/ack@1',
  /** A TopicAdvert in its wire form. */
  Advert: 'pubsub/advert@1',
  /** `[topic, version, sig]`: the topic's creator deleted it (signed by the topic key). */
  Delete: 'pubsub/delete@1',
} as const;

/** Outcome of a subscribe or unsubscribe request. */
export const SubscribeStatus = {
  Ok: 0,
  UnknownTopic: 1,
  NotPublisher: 2,
  OverCapacity: 3,
  NotSubscribed: 4,
  BadRequest: 5,
} as const;
export type SubscribeStatus = (typeof SubscribeStatus)[keyof typeof SubscribeStatus];

export const SUBSCRIBE_STATUS_TEXT: Record<SubscribeStatus, string> = {
  0: 'ok',
  1: 'unknown topic',
  2: 'that node does not publish the topic',
  3: 'publisher over capacity',
  4: 'not subscribed',
  5: 'bad request',
};

// --- topic requests ------------------------------------------------------------------------

export function readTopicRequest(body: unknown, path: string): TopicId {
  const v = expectArray(body, path, 1, 1);
  return readTopicId(v[0], `${path}.topic`);
}

/** Subscribe flag: sign the events sent to me. */
export const WANTS_SIGNATURES = 1;

export interface SubscribeRequest {
  readonly topic: TopicId;
  readonly wantsSignatures: boolean;
}

export function subscribeRequestToWire(r: SubscribeRequest): unknown[] {
  return [r.topic, r.wantsSignatures ? WANTS_SIGNATURES : 0];
}

export function readSubscribeRequest(body: unknown): SubscribeRequest {
  const v = expectArray(body, 'subscribe', 1, 2);
  const flags = v[1] === undefined ? 0 : expectUint(v[1], 'subscribe.flags', 0xff);
  return { topic: readTopicId(v[0], 'subscribe.topic'), wantsSignatures: (flags & WANTS_SIGNATURES) !== 0 };
}

function readTopicId(value: unknown, path: string): TopicId {
  if (!isKeyText(value)) throw new SchemaError(path, 'expected a topic identity');
  return value as TopicId;
}

export interface SubscribeReply {
  readonly status: SubscribeStatus;
  /** The publisher's session: sequence numbers restart when it changes. */
  readonly epoch: number;
  /** The last sequence number the publisher used for the topic. */
  readonly seq: number;
  /** The last sequence number sent to the asking node, when the publisher still remembers it. */
  readonly lastSent: number | undefined;
  /** How many events the publisher sends before it waits for an acknowledgement. */
  readonly window: number;
}

export function subscribeReplyToWire(r: SubscribeReply): unknown[] {
  return [r.status, r.epoch, r.seq, r.lastSent ?? null, r.window];
}

export function readSubscribeReply(body: unknown): SubscribeReply {
  const v = expectArray(body, 'subscribeReply', 1, 5);
  const status = expectUint(v[0], 'subscribeReply.status', 5) as SubscribeStatus;
  if (status !== SubscribeStatus.Ok) return { status, epoch: 0, seq: 0, lastSent: undefined, window: 0 };
  return {
    status,
    epoch: expectUint(v[1], 'subscribeReply.epoch'),
    seq: expectUint(v[2], 'subscribeReply.seq'),
    lastSent: optional(v[3], (x) => expectUint(x, 'subscribeReply.lastSent')),
    window: expectUint(v[4], 'subscribeReply.window', Number.MAX_SAFE_INTEGER, 1),
  };
}

// --- events --------------------------------------------------------------------------------

/** A topic event as it travels between nodes. */
export interface TopicEvent {
  readonly topic: TopicId;
  readonly publisher: EngineAddress;
  /** Per publisher, per topic, starting at 1 in each epoch. */
  readonly seq: number;
  readonly epoch: number;
  readonly protocol: string;
  readonly body: unknown;
  readonly expiry: number | undefined;
  /** The publisher node's signature over the fields above (see `eventSigningPayload`). */
  readonly sig: Uint8Array | undefined;
}

const EVENT_LABEL = 'netmachine/pubsub-event/v1';

/**
 * The bytes a publisher node signs: everything but the per-link number, so any node that forwards
 * the event (v2) can pass the signature on unchanged.
 */
export function eventSigningPayload(e: Omit<TopicEvent, 'sig'>): Uint8Array {
  return pack([
    EVENT_LABEL,
    identityBytes(e.topic),
    identityBytes(e.publisher.node),
    e.publisher.name,
    e.epoch,
    e.seq,
    e.protocol,
    e.expiry ?? null,
    e.body,
  ]);
}

export function signEvent(nodeKey: KeyPair, e: Omit<TopicEvent, 'sig'>): Uint8Array {
  return nodeKey.sign(eventSigningPayload(e));
}

/** True when `e.sig` is the publisher node's signature over the event. */
export function verifyEventSignature(e: TopicEvent): boolean {
  if (e.sig === undefined) return false;
  return verifySignature(identityBytes(e.publisher.node), eventSigningPayload(e), e.sig);
}

/**
 * Wire form without the link number: `[topic, pubNode, pubName, seq, epoch, protocol, body,
 * expiry|null, sig|null]`. Built once per publish and shared by every subscriber link.
 */
export function eventToWire(e: TopicEvent): unknown[] {
  return [
    e.topic,
    e.publisher.node,
    e.publisher.name,
    e.seq,
    e.epoch,
    e.protocol,
    e.body,
    e.expiry ?? null,
    e.sig ?? null,
  ];
}

const EVENT_FIELDS = 9;

/**
 * The wire fields of an event encoded once per publish, for every link to carry: a msgpack array
 * whose header counts one more element, the link number each link appends (see `eventMessageBody`).
 */
export function packEventFields(e: TopicEvent): Uint8Array {
  const bytes = packPlain(eventToWire(e));
  bytes[0] = 0x90 + EVENT_FIELDS + 1;
  return bytes;
}

/**
 * The wire body of one event on one link: `[...fields, n]`, the shared fields' bytes followed by
 * the link number `n`, with no copy per link.
 */
export function eventMessageBody(packedFields: Uint8Array, n: number): EncodedBody {
  if (packedFields[0] !== 0x90 + EVENT_FIELDS + 1) {
    throw new SchemaError('event', 'expected the packed event fields');
  }
  return new EncodedBody(packedFields, n);
}

/** Reads the link number first, so an event that fails validation can still be acknowledged. */
export function readEventLinkNumber(body: unknown): number | undefined {
  if (!Array.isArray(body) || body.length !== EVENT_FIELDS + 1) return undefined;
  const n = body[EVENT_FIELDS];
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

export function readEvent(body: unknown): TopicEvent {
  return readEventFields(expectArray(body, 'event', EVENT_FIELDS + 1, EVENT_FIELDS + 1));
}

/** The nine event fields, from an array that may carry the link number after them. */
function readEventFields(v: readonly unknown[]): TopicEvent {
  const topic = readTopicId(v[0], 'event.topic');
  if (!isKeyText(v[1])) throw new SchemaError('event.publisher.node', 'expected a node identity');
  if (!isEngineName(v[2])) throw new SchemaError('event.publisher.name', 'expected an engine name');
  return {
    topic,
    publisher: { node: v[1] as NodeId, name: v[2] },
    seq: expectUint(v[3], 'event.seq', Number.MAX_SAFE_INTEGER, 1),
    epoch: expectUint(v[4], 'event.epoch'),
    protocol: expectString(v[5], 'event.protocol', MAX_PROTOCOL_LENGTH, 1),
    body: v[6],
    expiry: optional(v[7], (x) => expectUint(x, 'event.expiry')),
    sig: optional(v[8], (x) => expectBytes(x, 'event.sig', SIGNATURE_BYTES)),
  };
}

// --- event runs (pubsub/events@1) ------------------------------------------------------------

/** Events in one `pubsub/events@1` message, at most. */
export const MAX_EVENTS_PER_MESSAGE = 4096;

const RUN_HEADER = 6;
const PER_RUN_EVENT = 3;

/**
 * Whether `next` can follow `prev` in one run: same topic, publisher, session and protocol, and the
 * next sequence number (a run carries only the first).
 */
export function continuesRun(prev: TopicEvent, next: TopicEvent): boolean {
  return (
    next.seq === prev.seq + 1 &&
    next.topic === prev.topic &&
    next.epoch === prev.epoch &&
    next.protocol === prev.protocol &&
    next.publisher.node === prev.publisher.node &&
    next.publisher.name === prev.publisher.name
  );
}

/**
 * A run of events (see `continuesRun`) in the wire form of `pubsub/events@1`: the shared fields once,
 * then three per event, `[topic, pubNode, pubName, epoch, protocol, firstSeq, body₁, expiry₁|null,
 * sig₁|null, …]`, as bytes whose array header counts one more element: the link number of the last
 * event, which each link adds (`new EncodedBody(bytes, n)`), so links sent the same run share them.
 * Against one `pubsub/event@1` per event this drops the two identities (about 110 bytes) and the
 * other shared fields from every event after the first.
 */
export function packEventRun(events: readonly TopicEvent[]): Uint8Array {
  const first = events[0];
  if (first === undefined) throw new SchemaError('events', 'an empty run');
  const wire: unknown[] = [
    first.topic,
    first.publisher.node,
    first.publisher.name,
    first.epoch,
    first.protocol,
    first.seq,
  ];
  for (const event of events) wire.push(event.body, event.expiry ?? null, event.sig ?? null);
  wire.push(0); // the link number's place: one byte, cut off below
  const bytes = packPlain(wire);
  return bytes.subarray(0, bytes.length - 1);
}

/** A received run: its events (fields checked) and the link number of the last. */
export interface EventRun {
  readonly events: TopicEvent[];
  readonly lastN: number;
}

export function readEventRun(body: unknown): EventRun {
  const v = expectArray(
    body,
    'events',
    RUN_HEADER + PER_RUN_EVENT + 1,
    RUN_HEADER + PER_RUN_EVENT * MAX_EVENTS_PER_MESSAGE + 1,
  );
  const count = (v.length - RUN_HEADER - 1) / PER_RUN_EVENT;
  if (!Number.isInteger(count)) throw new SchemaError('events', 'expected three fields per event');
  const lastN = expectUint(v[v.length - 1], 'events.n');
  if (lastN < count) throw new SchemaError('events.n', 'a link number below the event count');
  const topic = readTopicId(v[0], 'events.topic');
  if (!isKeyText(v[1])) throw new SchemaError('events.publisher.node', 'expected a node identity');
  if (!isEngineName(v[2])) throw new SchemaError('events.publisher.name', 'expected an engine name');
  const publisher: EngineAddress = { node: v[1] as NodeId, name: v[2] };
  const epoch = expectUint(v[3], 'events.epoch');
  const protocol = expectString(v[4], 'events.protocol', MAX_PROTOCOL_LENGTH, 1);
  const firstSeq = expectUint(v[5], 'events.seq', Number.MAX_SAFE_INTEGER - count, 1);
  const events: TopicEvent[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const at = RUN_HEADER + i * PER_RUN_EVENT;
    events[i] = {
      topic,
      publisher,
      seq: firstSeq + i,
      epoch,
      protocol,
      body: v[at],
      expiry: optional(v[at + 1], (x) => expectUint(x, 'event.expiry')),
      sig: optional(v[at + 2], (x) => expectBytes(x, 'event.sig', SIGNATURE_BYTES)),
    };
  }
  return { events, lastN };
}

export function readAck(body: unknown): number {
  const v = expectArray(body, 'ack', 1, 1);
  return expectUint(v[0], 'ack.n');
}

// --- topic deletion ------------------------------------------------------------------------

const DELETE_LABEL = 'netmachine/topic-delete/v1';

/** A topic's deletion, signed by the topic key so any node may pass it on. */
export interface TopicDeletion {
  readonly topic: TopicId;
  /** The advert version the deletion retires: adverts up to it are refused afterwards. */
  readonly version: number;
  readonly sig: Uint8Array;
}

function deletionPayload(topic: TopicId, version: number): Uint8Array {
  return pack([DELETE_LABEL, identityBytes(topic), version]);
}

export function signDeletion(topicKey: KeyPair, version: number): TopicDeletion {
  const topic = topicKey.topicId;
  return { topic, version, sig: topicKey.sign(deletionPayload(topic, version)) };
}

export function verifyDeletion(d: TopicDeletion): boolean {
  return verifySignature(identityBytes(d.topic), deletionPayload(d.topic, d.version), d.sig);
}

export function deletionToWire(d: TopicDeletion): unknown[] {
  return [d.topic, d.version, d.sig];
}

export function readDeletion(body: unknown): TopicDeletion {
  const v = expectArray(body, 'delete', 3, 3);
  return {
    topic: readTopicId(v[0], 'delete.topic'),
    version: expectUint(v[1], 'delete.version'),
    sig: expectBytes(v[2], 'delete.sig', SIGNATURE_BYTES),
  };
}
