import {
  type EngineAddress,
  type EngineClient,
  type EngineMessage,
  type NodeId,
  releaseWhenEncoded,
} from '@netmachine/core';
import { FrameSlab } from '@netmachine/transport/wire';
import type { InFlightRing } from './in-flight.js';
import { forwardFrameHead, MAX_FRAME_SEALED_BYTES } from './link-frames.js';
import { encodeForward, MAX_SEALED_BYTES, RELAY_ENGINE, RELAY_PROTOCOL } from './protocol.js';
import { MIN_RECYCLED_SEALED_BYTES, type RelaySealer } from './relay-sealer.js';
import { SEALED_OVERHEAD } from './sealed-format.js';
import { type RelayContext, type RelayCounters, type RelayOptions, relayedExpiry } from './service-types.js';

/**
 * Messages to one destination sealed together when the current task ends (one RelayMessage). They
 * are encoded as they come, as a link's Message frames (`u32 length ‖ tag ‖ message`), straight into
 * `frames`: sealing adds only the padding, no object or buffer per message.
 */
interface Batch {
  readonly via: NodeId;
  readonly frames: FrameSlab;
  messages: EngineMessage[];
  expiry: number;
}

/**
 * A batch is sealed before it would need more than this many bytes of frames (so that a full batch
 * fills a 64 KiB bucket: 261 messages of 200 B), or once it holds this many messages. Every cost
 * per batch at the source, the relay and the destination (a cipher, a frame, a socket read and
 * write, a wake-up) is shared by four times as many messages as with 16 KiB batches; a lone
 * message is still a batch of one in the smallest bucket that fits it.
 */
const BATCH_BYTES = 65_536 - SEALED_OVERHEAD;
const BATCH_MESSAGES = 512;
/** Largest inner message: what fits in the largest sealed message a relay takes. */
const MAX_INNER_BYTES = MAX_SEALED_BYTES - SEALED_OVERHEAD;
/** Frame slabs of sealed batches kept for the next batches (each holds up to 64 KiB). */
const SPARE_SLABS = 8;

/**
 * As a source: batches the messages to each destination, seals each batch for its destination and
 * hands it to the relay chosen for it, remembering it in the in-flight ring for a refusal.
 */
export class SealBatcher {
  readonly #batches = new Map<NodeId, Batch>();
  readonly #spareSlabs: FrameSlab[] = [];
  #flushQueued = false;
  /** The relayed expiry of this task's messages that carry none (reset when the task's batches go). */
  #taskExpiry: number | undefined;

  readonly #relayPath: RelayContext['relayPath'];
  readonly #options: Pick<RelayOptions, 'defaultTtlMs'>;
  readonly #sealer: RelaySealer;
  readonly #inFlight: InFlightRing;
  readonly #counters: RelayCounters;
  /** The relay engine's client while the service runs. */
  readonly #client: () => EngineClient | undefined;

  constructor(
    relayPath: RelayContext['relayPath'],
    options: Pick<RelayOptions, 'defaultTtlMs'>,
    sealer: RelaySealer,
    inFlight: InFlightRing,
    counters: RelayCounters,
    client: () => EngineClient | undefined,
  ) {
    this.#relayPath = relayPath;
    this.#options = options;
    this.#sealer = sealer;
    this.#inFlight = inFlight;
    this.#counters = counters;
    this.#client = client;
  }

  /** The relay the batch open for `dst` in this task goes to, if one is open. */
  openVia(dst: NodeId): NodeId | undefined {
    return this.#batches.get(dst)?.via;
  }

  /**
   * Messages to one destination in the same task go as one RelayMessage, sealed when the task ends
   * (a microtask: no timer, so a lone request goes at once): one AEAD, one frame and one pass
   * through the relay for all of them. A reply goes at once (below).
   */
  add(message: EngineMessage, via: NodeId): void {
    const dst = (message.dst as EngineAddress).node;
    if (message.replyTo === undefined || this.#batches.has(dst)) {
      this.#append(message, dst, via);
      return;
    }
    // A reply with nothing open to its node is sealed and sent at once, as a link writes a reply at
    // once: it does not wait for the rest of the task (the handler's return, the read's other
    // frames) to end. Anything more to that node in this task opens a batch behind it.
    this.#append(message, dst, via);
    const batch = this.#batches.get(dst);
    if (batch === undefined) return;
    this.#seal(dst, batch, batch.frames.takeParts());
    this.#dropBatch(dst, batch);
  }

  /**
   * Adds `message` to the batch open for its node in this task, if there is one (its first message
   * chose the relay); false when none is open.
   */
  join(message: EngineMessage): boolean {
    const dst = (message.dst as EngineAddress).node;
    const batch = this.#batches.get(dst);
    if (batch === undefined) return false;
    this.#append(message, dst, batch.via, batch);
    return true;
  }

  #append(
    message: EngineMessage,
    dst: NodeId,
    via: NodeId,
    open: Batch | undefined = this.#batches.get(dst),
  ): void {
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.flush);
    }
    // Messages without their own expiry share one for the task: one clock read, not one per message.
    let expiry = message.expiry;
    if (expiry === undefined) {
      if (this.#taskExpiry === undefined) this.#taskExpiry = relayedExpiry(message, this.#options);
      expiry = this.#taskExpiry;
    }
    let batch = open;
    if (batch !== undefined && (batch.via !== via || batch.messages.length >= BATCH_MESSAGES)) {
      this.#seal(dst, batch, batch.frames.takeParts());
      this.#dropBatch(dst, batch);
      batch = undefined;
    }
    if (batch === undefined) {
      batch = { via, frames: this.#spareSlabs.pop() ?? new FrameSlab(), messages: [], expiry };
      this.#batches.set(dst, batch);
    }
    const frames = batch.frames;
    const before = frames.pendingBytes;
    try {
      frames.appendMessage(message, MAX_INNER_BYTES);
    } catch (error) {
      // Not encodable (or too large): nothing was appended.
      this.#relayPath.undeliverable(message, error as Error);
      if (batch.messages.length === 0) this.#dropBatch(dst, batch);
      return;
    }
    if (frames.pendingBytes > BATCH_BYTES && before > 0) {
      // It does not fit: what came before goes now, and this message starts the next batch. Its
      // frame is whole at the end of the last part (a slab never splits a frame).
      const frameLength = frames.pendingBytes - before;
      const parts = frames.takeParts();
      const last = parts[parts.length - 1] as Buffer;
      const split = last.length - frameLength;
      frames.appendFrame(last.subarray(split));
      if (split > 0) parts[parts.length - 1] = last.subarray(0, split);
      else parts.pop();
      this.#seal(dst, batch, parts);
      batch.messages = [];
      batch.expiry = expiry;
    }
    batch.messages.push(message);
    if (expiry > batch.expiry) batch.expiry = expiry;
  }

  readonly flush = (): void => {
    this.#flushQueued = false;
    this.#taskExpiry = undefined;
    for (const [dst, batch] of this.#batches) {
      this.#seal(dst, batch, batch.frames.takeParts());
      this.#dropBatch(dst, batch);
    }
  };

  /** Forgets a batch, keeping its slab for the next one. */
  #dropBatch(dst: NodeId, batch: Batch): void {
    this.#batches.delete(dst);
    if (this.#spareSlabs.length < SPARE_SLABS) this.#spareSlabs.push(batch.frames);
  }

  /** Seals `records` (the batch's messages so far) and hands the RelayMessage to relay `batch.via`. */
  #seal(dst: NodeId, batch: Batch, records: Buffer[]): void {
    const { via, messages, expiry } = batch;
    if (records.length === 0 || messages.length === 0) return;
    const client = this.#client();
    let sealed: Buffer;
    try {
      sealed = this.#sealer.sealRecords(dst, records, expiry);
    } catch (error) {
      for (const message of messages) this.#relayPath.undeliverable(message, error as Error);
      return;
    }
    if (client === undefined) return;
    const ref = this.#inFlight.record(via, dst, messages);
    this.#counters.sealed += messages.length;
    // As a Relay frame, straight onto the connection to the relay when nothing waits before it: the
    // sealed bytes are copied there now.
    if (
      sealed.length <= MAX_FRAME_SEALED_BYTES &&
      this.#relayPath.sendRelayFrame?.(via, forwardFrameHead(dst, expiry, ref, sealed.length), sealed)
    ) {
      this.#counters.sentAsFrames++;
      if (sealed.length >= MIN_RECYCLED_SEALED_BYTES) this.#sealer.recycle(sealed);
      return;
    }
    const body = encodeForward(dst, expiry, ref, sealed, 0);
    // Once the link has copied the sealed bytes into its frame, the next batch is sealed into them.
    if (sealed.length >= MIN_RECYCLED_SEALED_BYTES)
      releaseWhenEncoded(body, () => this.#sealer.recycle(sealed));
    client.send({ node: via, name: RELAY_ENGINE }, body, { expiry, protocol: RELAY_PROTOCOL });
  }
}
