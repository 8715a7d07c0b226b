import {
  type EngineAddress,
  expectArray,
  expectBoolean,
  expectBytes,
  expectPlainValue,
  expectString,
  expectUint,
  identityBytes,
  isEngineName,
  isKeyText,
  KEY_BYTES,
  type KeyPair,
  MAX_BODY_DEPTH,
  MAX_PROTOCOL_LENGTH,
  type NodeId,
  optional,
  pack,
  parseTopicId,
  SchemaError,
  SIGNATURE_BYTES,
  type TopicId,
  unpack,
  verifySignature,
} from '@netmachine/core';
import { appendTag, DH_KEY_BYTES, splitTag, WRAPPED_KEY_BYTES } from './session-keys.js';

/**
 * The four envelopes that cross NATS.
 *
 * The handshake is signed with Ed25519: each envelope is a msgpack array whose last element is a
 * signature over a labelled array that also binds the node and engine name, so it cannot be
 * replayed for another node, another engine, or as another kind of envelope.
 * - Announcement (process → bridge, request on `attach`): attach/heartbeat/detach, signed by the
 *   engine key; carries the process's ephemeral X25519 key.
 * - AttachReply (bridge → process): accepted or refused, signed by the node key, echoing the nonce;
 *   carries the bridge session's X25519 key and the name's group key, wrapped for this process.
 *
 * Traffic is tagged with HMAC-SHA256 under the session keys (`session-keys.ts`): msgpack bytes
 * followed by a 32-byte tag. The keys are specific to the node, name and session, so a tagged
 * envelope cannot pass for another node, engine or session either.
 * - Delivery (bridge → process): a message for the engine (tagged with the name's group key), or the
 *   result of the process's request (tagged with that process's `results` key); `session` + `seq`
 *   let the process refuse replays.
 * - OutMessage (process → bridge, on `out`): send/request/reply/publish, tagged with the process's
 *   `out` key; `instance` + `id` let the bridge refuse replays.
 */

const ANNOUNCE_LABEL = 'netmachine/nats/announce/v2';
const ATTACH_REPLY_LABEL = 'netmachine/nats/attach-reply/v2';

export const NONCE_BYTES = 16;
/** Topics one process may subscribe its engine to (they travel in every heartbeat). */
export const MAX_TOPICS_PER_INSTANCE = 256;
const INSTANCE_ID = /^[A-Za-z0-9_-]{8,64}$/;
const MAX_REASON = 512;

function readServer(value: unknown): { server?: string } {
  if (typeof value !== 'string' || value.length > MAX_SERVER_CHARS)
    throw new SchemaError('announcement.server', `not a string of at most ${MAX_SERVER_CHARS} characters`);
  return value === '' ? {} : { server: value };
}

function readInstance(value: unknown, path: string): string {
  if (typeof value !== 'string' || !INSTANCE_ID.test(value)) {
    throw new SchemaError(path, 'expected an instance id (8-64 of [A-Za-z0-9_-])');
  }
  return value;
}

function readName(value: unknown, path: string): string {
  if (!isEngineName(value)) throw new SchemaError(path, 'expected an engine name');
  return value;
}

function readNode(value: unknown, path: string): NodeId {
  // isKeyText remembers the ids it has checked: the same few arrive on every message.
  if (typeof value !== 'string' || value.length !== 52 || !isKeyText(value))
    throw new SchemaError(path, 'expected a node id');
  return value as NodeId;
}

function readTopic(value: unknown, path: string): TopicId {
  try {
    return parseTopicId(expectString(value, path, 52, 52));
  } catch {
    throw new SchemaError(path, 'expected a topic id');
  }
}

function readBody(value: unknown, path: string): unknown {
  return expectPlainValue(value, path, MAX_BODY_DEPTH, Number.MAX_SAFE_INTEGER);
}

const readSig = (value: unknown, path: string) => expectBytes(value, path, SIGNATURE_BYTES);

/** Exactly `length` bytes, or none (a refusal carries no keys). */
function bytesOrEmpty(value: unknown, path: string, length: number): Uint8Array {
  const bytes = expectBytes(value, path, undefined, length);
  if (bytes.length !== 0 && bytes.length !== length)
    throw new SchemaError(path, `expected 0 or ${length} bytes`);
  return bytes;
}

// --- announcements ------------------------------------------------------------

export type AnnounceKind = 'attach' | 'detach';

export interface Announcement {
  readonly kind: AnnounceKind;
  readonly name: string;
  /** Random per process run: one process is one member of the engine's queue group. */
  readonly instance: string;
  readonly publicKey: Uint8Array;
  /** The process's ephemeral X25519 key, for the session keys. */
  readonly dhKey: Uint8Array;
  /** Sender's clock, ms since the epoch: with the nonce, it bounds how long a replay could work. */
  readonly timestamp: number;
  readonly nonce: Uint8Array;
  readonly topics: readonly TopicId[];
  /** The NATS server the process is connected to (as its client sees it), shown in the node's status. */
  readonly server?: string;
  readonly sig: Uint8Array;
}

/** Longest server URL an announcement may carry. */
const MAX_SERVER_CHARS = 256;

function announcementBytes(node: NodeId, a: Omit<Announcement, 'sig'>): Buffer {
  return pack([
    ANNOUNCE_LABEL,
    node,
    a.name,
    a.kind,
    a.instance,
    a.publicKey,
    a.timestamp,
    a.nonce,
    a.topics,
    a.server ?? '',
    a.dhKey,
  ]);
}

export function signAnnouncement(
  key: KeyPair,
  node: NodeId,
  fields: Omit<Announcement, 'sig' | 'publicKey'>,
): Announcement {
  const unsigned = { ...fields, publicKey: key.publicKey };
  return { ...unsigned, sig: key.sign(announcementBytes(node, unsigned)) };
}

export function verifyAnnouncement(node: NodeId, a: Announcement): boolean {
  return verifySignature(a.publicKey, announcementBytes(node, a), a.sig);
}

export function encodeAnnouncement(a: Announcement): Buffer {
  return pack([
    a.kind,
    a.name,
    a.instance,
    a.publicKey,
    a.timestamp,
    a.nonce,
    a.topics,
    a.sig,
    a.server ?? '',
    a.dhKey,
  ]);
}

export function decodeAnnouncement(bytes: Uint8Array): Announcement {
  const v = expectArray(unpack(bytes), 'announcement', 10, 10);
  const kind = v[0];
  if (kind !== 'attach' && kind !== 'detach') throw new SchemaError('announcement.kind', 'unknown kind');
  const topics = expectArray(v[6], 'announcement.topics', 0, MAX_TOPICS_PER_INSTANCE).map((t, i) =>
    readTopic(t, `announcement.topics[${i}]`),
  );
  return {
    kind,
    name: readName(v[1], 'announcement.name'),
    instance: readInstance(v[2], 'announcement.instance'),
    publicKey: expectBytes(v[3], 'announcement.publicKey', KEY_BYTES),
    timestamp: expectUint(v[4], 'announcement.timestamp'),
    nonce: expectBytes(v[5], 'announcement.nonce', NONCE_BYTES),
    topics,
    sig: readSig(v[7], 'announcement.sig'),
    ...readServer(v[8]),
    dhKey: expectBytes(v[9], 'announcement.dhKey', DH_KEY_BYTES),
  };
}

// --- attach replies -------------------------------------------------------------

export interface AttachReply {
  readonly ok: boolean;
  /** The bridge's session: deliveries from any other session are refused. */
  readonly session: string;
  /** How often the process must announce itself; the bridge detaches it after a few missed. */
  readonly heartbeatMs: number;
  /** Refusal code (empty when ok). */
  readonly code: string;
  readonly reason: string;
  /** The bridge session's ephemeral X25519 key (empty when refused). */
  readonly dhKey: Uint8Array;
  /** The name's group key, wrapped for this process (empty when refused). */
  readonly groupKey: Uint8Array;
  readonly sig: Uint8Array;
}

/** What an attach reply answers: it is signed together with it, so it cannot answer anything else. */
export interface AttachContext {
  readonly node: NodeId;
  readonly name: string;
  readonly instance: string;
  readonly nonce: Uint8Array;
}

function attachReplyBytes(c: AttachContext, r: Omit<AttachReply, 'sig'>): Buffer {
  return pack([
    ATTACH_REPLY_LABEL,
    c.node,
    c.name,
    c.instance,
    c.nonce,
    r.ok,
    r.session,
    r.heartbeatMs,
    r.code,
    r.reason,
    r.dhKey,
    r.groupKey,
  ]);
}

export function signAttachReply(key: KeyPair, c: AttachContext, r: Omit<AttachReply, 'sig'>): Buffer {
  const sig = key.sign(attachReplyBytes(c, r));
  return pack([r.ok, r.session, r.heartbeatMs, r.code, r.reason, r.dhKey, r.groupKey, sig]);
}

/** Decodes and verifies an attach reply against the node's key; throws SchemaError if it is not genuine. */
export function openAttachReply(bytes: Uint8Array, c: AttachContext): AttachReply {
  const v = expectArray(unpack(bytes), 'attachReply', 8, 8);
  const reply: AttachReply = {
    ok: expectBoolean(v[0], 'attachReply.ok'),
    session: expectString(v[1], 'attachReply.session', 64),
    heartbeatMs: expectUint(v[2], 'attachReply.heartbeatMs', 3_600_000),
    code: expectString(v[3], 'attachReply.code', 64),
    reason: expectString(v[4], 'attachReply.reason', MAX_REASON),
    dhKey: bytesOrEmpty(v[5], 'attachReply.dhKey', DH_KEY_BYTES),
    groupKey: bytesOrEmpty(v[6], 'attachReply.groupKey', WRAPPED_KEY_BYTES),
    sig: readSig(v[7], 'attachReply.sig'),
  };
  if (!verifySignature(identityBytes(c.node), attachReplyBytes(c, reply), reply.sig)) {
    throw new SchemaError('attachReply.sig', 'not signed by the node');
  }
  return reply;
}

// --- deliveries (bridge → process) --------------------------------------------------

export interface Delivery {
  readonly session: string;
  readonly seq: number;
  /** Set on the result of a process's request: the instance that asked and its request id. */
  readonly instance: string | undefined;
  readonly requestId: number | undefined;
  /** Set when the request failed: `[code, message]`. */
  readonly error: readonly [string, string] | undefined;
  readonly id: number;
  readonly src: EngineAddress;
  /** Set for a topic event. */
  readonly topic: TopicId | undefined;
  readonly replyTo: number | undefined;
  readonly expiry: number | undefined;
  readonly protocol: string;
  readonly body: unknown;
}

function deliveryFields(d: Delivery): unknown[] {
  return [
    d.session,
    d.seq,
    d.instance ?? null,
    d.requestId ?? null,
    d.error ? [...d.error] : null,
    d.id,
    d.src.node,
    d.src.name,
    d.topic ?? null,
    d.replyTo ?? null,
    d.expiry ?? null,
    d.protocol,
    d.body,
  ];
}

/** A delivery tagged with `key`: the name's group key, or for a request's result the asker's `results` key. */
export function sealDelivery(key: Uint8Array, d: Delivery): Buffer {
  return appendTag(key, pack(deliveryFields(d)));
}

/** A decoded delivery, its tag not yet checked (the session it names says which key to check it with). */
export interface TaggedDelivery {
  readonly delivery: Delivery;
  readonly tagged: Uint8Array;
  readonly tag: Uint8Array;
}

/** Decodes a delivery; throws SchemaError if it is malformed. Check the tag with `tagValid`. */
export function decodeDelivery(bytes: Uint8Array): TaggedDelivery {
  const { tagged, tag } = splitTag(bytes, 'delivery');
  const v = expectArray(unpack(tagged), 'delivery', 13, 13);
  const error = optional(v[4], (x) => {
    const e = expectArray(x, 'delivery.error', 2, 2);
    return [
      expectString(e[0], 'delivery.error.code', 64),
      expectString(e[1], 'delivery.error.message', MAX_REASON),
    ] as const;
  });
  const delivery: Delivery = {
    session: expectString(v[0], 'delivery.session', 64),
    seq: expectUint(v[1], 'delivery.seq'),
    instance: optional(v[2], (x) => readInstance(x, 'delivery.instance')),
    requestId: optional(v[3], (x) => expectUint(x, 'delivery.requestId')),
    error,
    id: expectUint(v[5], 'delivery.id'),
    src: { node: readNode(v[6], 'delivery.src.node'), name: readName(v[7], 'delivery.src.name') },
    topic: optional(v[8], (x) => readTopic(x, 'delivery.topic')),
    replyTo: optional(v[9], (x) => expectUint(x, 'delivery.replyTo')),
    expiry: optional(v[10], (x) => expectUint(x, 'delivery.expiry')),
    protocol: expectString(v[11], 'delivery.protocol', MAX_PROTOCOL_LENGTH, 1),
    body: readBody(v[12], 'delivery.body'),
  };
  return { delivery, tagged, tag };
}

// --- out messages (process → bridge) ---------------------------------------------------

export type OutKind = 'send' | 'request' | 'reply' | 'publish';
const OUT_KINDS: readonly OutKind[] = ['send', 'request', 'reply', 'publish'];

export interface OutMessage {
  readonly name: string;
  readonly instance: string;
  readonly kind: OutKind;
  /** Per instance, increasing: the bridge refuses an id it has already seen. */
  readonly id: number;
  /** An engine for send/request/reply, a topic for publish. */
  readonly dst: EngineAddress | { readonly topic: TopicId };
  readonly replyTo: number | undefined;
  readonly expiry: number | undefined;
  readonly protocol: string;
  readonly body: unknown;
  readonly timeoutMs: number | undefined;
}

function outFields(m: OutMessage): unknown[] {
  const engine = 'topic' in m.dst ? undefined : m.dst;
  return [
    m.instance,
    m.kind,
    m.id,
    engine?.node ?? null,
    engine?.name ?? null,
    'topic' in m.dst ? m.dst.topic : null,
    m.replyTo ?? null,
    m.expiry ?? null,
    m.protocol,
    m.body,
    m.timeoutMs ?? null,
  ];
}

/** An out message tagged with the process's `out` key. */
export function sealOut(key: Uint8Array, m: OutMessage): Buffer {
  return appendTag(key, pack([m.name, ...outFields(m)]));
}

/** Decodes an out message; its tag is checked with `tagValid` once the sender's keys are known. */
export function decodeOut(bytes: Uint8Array): { message: OutMessage; tagged: Uint8Array; tag: Uint8Array } {
  const { tagged, tag } = splitTag(bytes, 'out');
  const v = expectArray(unpack(tagged), 'out', 12, 12);
  const kind = v[2] as OutKind;
  if (!OUT_KINDS.includes(kind)) throw new SchemaError('out.kind', 'unknown kind');
  const topic = optional(v[6], (x) => readTopic(x, 'out.topic'));
  let dst: OutMessage['dst'];
  if (kind === 'publish') {
    if (topic === undefined) throw new SchemaError('out.topic', 'a publish needs a topic');
    dst = { topic };
  } else {
    dst = { node: readNode(v[4], 'out.dst.node'), name: readName(v[5], 'out.dst.name') };
  }
  const message: OutMessage = {
    name: readName(v[0], 'out.name'),
    instance: readInstance(v[1], 'out.instance'),
    kind,
    id: expectUint(v[3], 'out.id'),
    dst,
    replyTo: optional(v[7], (x) => expectUint(x, 'out.replyTo')),
    expiry: optional(v[8], (x) => expectUint(x, 'out.expiry')),
    protocol: expectString(v[9], 'out.protocol', MAX_PROTOCOL_LENGTH, 1),
    body: readBody(v[10], 'out.body'),
    timeoutMs: optional(v[11], (x) => expectUint(x, 'out.timeoutMs', 86_400_000, 1)),
  };
  return { message, tagged, tag };
}
