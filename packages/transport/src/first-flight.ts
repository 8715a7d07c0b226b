import {
  type EngineMessage,
  IncompatibleProtocolError,
  MessageExpiredError,
  OverCapacityError,
  PeerDeniedError,
} from '@netmachine/core';
import type { TransportDropReason } from './counters.js';
import type { NodeQueue, QueueEntry } from './node-queue.js';
import { FrameSlab } from './wire/frame-slab.js';

/**
 * Messages a dial carries with its ConnectRequest are taken while fewer than this many bytes are
 * gathered (so at most this plus one message, itself bounded by `maxFrameSize`): the listener reads
 * them only after accepting the ConnectRequest, so the first message costs no round trip of its own.
 */
export const FIRST_FLIGHT_BYTES = 16 * 1024;

export interface FirstFlight {
  /** The ConnectRequest frame followed by the messages' frames. */
  readonly bytes: Buffer;
  /** The queue entries sent, oldest first. */
  readonly taken: QueueEntry[];
  /** Whether the advert frame went with them. */
  readonly advertSent: boolean;
}

/**
 * Builds a dial's first bytes once the listener's key is pinned: the ConnectRequest, `advert`'s
 * frame if it gives one and messages follow, then messages taken from the head of the node's queue
 * while fewer than `FIRST_FLIGHT_BYTES` are gathered. An expired message, or one that cannot be
 * encoded, is reported to `dropped` and skipped, as the session would.
 */
export function takeFirstFlight(
  queue: NodeQueue,
  request: Uint8Array,
  append: (slab: FrameSlab, message: EngineMessage) => void,
  dropped: (message: EngineMessage, error: Error, reason: TransportDropReason) => void,
  node: string,
  advert?: () => Uint8Array | undefined,
): FirstFlight {
  const slab = new FrameSlab(FIRST_FLIGHT_BYTES * 2);
  slab.appendFrame(request);
  // The dialer's advert, when the listener may not hold it, goes ahead of the messages (as it would
  // after the handshake): a message never arrives before the advert of the node that sent it.
  const advertFrame = queue.length > 0 ? advert?.() : undefined;
  if (advertFrame !== undefined) slab.appendFrame(advertFrame);
  const taken: QueueEntry[] = [];
  const now = Date.now();
  while (queue.length > 0 && slab.pendingBytes < FIRST_FLIGHT_BYTES) {
    const entry = queue.shift()!;
    if (entry.deadline <= now) {
      dropped(entry.message, new MessageExpiredError(node), 'expired');
      continue;
    }
    try {
      append(slab, entry.message);
    } catch (error) {
      dropped(entry.message, error as Error, 'not-encodable');
      continue;
    }
    taken.push(entry);
  }
  return { bytes: slab.take()!, taken, advertSent: advertFrame !== undefined };
}

/**
 * A first flight encoded ahead of time (while the transport's handshake is under way) from the
 * messages at the head of the queue, which stay queued until `commitFirstFlight` takes them.
 */
export interface PreparedFlight {
  readonly bytes: Buffer;
  readonly entries: readonly QueueEntry[];
  /** The queue's length when prepared: a flight takes every message it can, so a longer queue rebuilds. */
  readonly queueLength: number;
  /** The version of our advert sent with the messages, or 0. */
  readonly advertVersion: number;
}

/**
 * Encodes what `takeFirstFlight` would send now, taking nothing from the queue: the dial does this
 * while the transport's handshake runs, so the first flight is ready when the peer's key is pinned.
 * Undefined when there is nothing to send or a message is expired or cannot be encoded (the
 * flight is then built at send time, which reports it).
 */
export function prepareFirstFlight(
  queue: NodeQueue,
  request: Uint8Array,
  append: (slab: FrameSlab, message: EngineMessage) => void,
  advert: { readonly version: number; readonly frame: () => Uint8Array } | undefined,
): PreparedFlight | undefined {
  if (queue.length === 0) return undefined;
  const slab = new FrameSlab(FIRST_FLIGHT_BYTES * 2);
  slab.appendFrame(request);
  if (advert !== undefined) slab.appendFrame(advert.frame());
  const entries: QueueEntry[] = [];
  const now = Date.now();
  for (let i = 0; i < queue.length && slab.pendingBytes < FIRST_FLIGHT_BYTES; i++) {
    const entry = queue.peek(i)!;
    if (entry.deadline <= now) return undefined;
    try {
      append(slab, entry.message);
    } catch {
      return undefined;
    }
    entries.push(entry);
  }
  return {
    bytes: slab.take()!,
    entries,
    queueLength: queue.length,
    advertVersion: advert?.version ?? 0,
  };
}

/**
 * Takes the prepared flight's messages from the queue if it is still what `takeFirstFlight` would
 * send: the same entries at the head, none of them expired, no message added since, and the same
 * advert decision (`advertVersion`: the version that would go now, or 0). Undefined, and nothing
 * taken, otherwise.
 */
export function commitFirstFlight(
  queue: NodeQueue,
  prepared: PreparedFlight,
  advertVersion: number,
): FirstFlight | undefined {
  if (queue.length !== prepared.queueLength || advertVersion !== prepared.advertVersion) return undefined;
  const now = Date.now();
  const { entries } = prepared;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (queue.peek(i) !== entry || entry.deadline <= now) return undefined;
  }
  for (let i = 0; i < entries.length; i++) queue.shift();
  return { bytes: prepared.bytes, taken: [...entries], advertSent: prepared.advertVersion > 0 };
}

/**
 * Whether a failed dial's error says the listener refused us (its acceptance byte or ConnectReply):
 * it then read none of the messages sent with the ConnectRequest, and they may be sent again. After
 * any other failure (the connection broke during the handshake) they may have been delivered.
 */
export function refusedBeforeReading(error: Error): boolean {
  return (
    error instanceof PeerDeniedError ||
    error instanceof OverCapacityError ||
    error instanceof IncompatibleProtocolError
  );
}
