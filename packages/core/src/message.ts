import type { EngineAddress, TopicId } from './identity.js';

/** A topic as a message destination: every subscriber of the topic receives the message. */
export interface TopicAddress {
  readonly topic: TopicId;
}

/** Where a message goes: an engine `(node, name)` (a node itself is its `router` engine), or a topic. */
export type Destination = EngineAddress | TopicAddress;

export function isTopicAddress(dst: Destination): dst is TopicAddress {
  return (dst as TopicAddress).topic !== undefined;
}

/** Transport preferences: which transport protocols to try, in order (e.g. `['quic', 'tls']`). */
export interface TransportPrefs {
  readonly transports?: readonly string[];
}

/**
 * The unit every engine sends and receives.
 * - `id` is unique per source engine on its node (a per-node counter);
 * - `replyTo` is the `id` of the request this message answers;
 * - `expiry` is an absolute time in milliseconds since the Unix epoch; past it the message is never delivered;
 * - `protocol` names the body's schema and version (e.g. `kv/get@1`);
 * - `sig`, when present, is the source's Ed25519 signature (strict mode, or a message that crossed a third party).
 */
export interface EngineMessage<B = unknown> {
  readonly id: number;
  readonly src: EngineAddress;
  readonly dst: Destination;
  readonly replyTo?: number | undefined;
  readonly expiry?: number | undefined;
  readonly prefs?: TransportPrefs | undefined;
  readonly protocol: string;
  readonly body: B;
  readonly sig?: Uint8Array | undefined;
}

/** Maximum length of a protocol name. */
export const MAX_PROTOCOL_LENGTH = 128;

/** How deeply a message body may nest: generous for real data, far below the decoder's stack limit. */
export const MAX_BODY_DEPTH = 64;

export function isExpired(message: { readonly expiry?: number | undefined }, now?: number): boolean {
  // The clock is read only for a message that has an expiry: most have none.
  return message.expiry !== undefined && message.expiry <= (now ?? Date.now());
}
