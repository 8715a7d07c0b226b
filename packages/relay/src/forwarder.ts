import {
  type EngineClient,
  type EngineMessage,
  type NodeId,
  releaseMessageBytes,
  releaseWhenEncoded,
} from '@netmachine/core';
import { MIN_POOLED_FRAME_BYTES } from '@netmachine/transport/wire';
import { deliverFrameHead, MAX_FRAME_SEALED_BYTES } from './link-frames.js';
import { isBucketSize } from './padding.js';
import {
  admits,
  DEFAULT_PER_SOURCE,
  DEFAULT_TOTAL,
  RateGate,
  type RelayOffer,
  SourceGates,
} from './policy.js';
import {
  encodeDeliver,
  encodeForward,
  encodeRefused,
  type ForwardFrame,
  Kind,
  RELAY_ENGINE,
  RELAY_PROTOCOL,
  type RefusalCode,
} from './protocol.js';
import { type RelayPaths, remember } from './relay-paths.js';
import type { RelayContext, RelayCounters, RelayOptions } from './service-types.js';
import { TokenBucket } from './token-bucket.js';

const DEFAULT_QUEUE_PER_DESTINATION = 64;
const DEFAULT_HOLD_MS = 1000;
const HOLD_POLL_MS = 1;
const REFUSALS_PER_SECOND = 50;

/**
 * As a relay: serves the nodes registered with us, and passes sealed messages on unopened to them
 * (or to another relay), within the offer's policy and limits; what it cannot pass on is refused.
 */
export class Forwarder {
  readonly #c: Pick<RelayContext, 'relayPath' | 'signal'>;
  readonly #o: Pick<RelayOptions, 'offer' | 'tap'>;
  readonly #paths: RelayPaths;
  readonly #counters: RelayCounters;
  readonly #client: () => EngineClient | undefined;
  readonly #maxPaths: number;
  readonly #sourceGates: SourceGates | undefined;
  readonly #totalGate: RateGate | undefined;
  /** Refusals sent, over all sources: a flood is not answered with a flood. */
  readonly #refusalGate = new TokenBucket(REFUSALS_PER_SECOND, REFUSALS_PER_SECOND);
  readonly #served = new Set<NodeId>();
  /** Nodes that sent through us lately: a reply to one of them is served while its link is up. */
  readonly #recentSources = new Map<NodeId, true>();
  /** Set while the service stops: a hold in progress ends, so the mailbox can stop. */
  stopping = false;

  constructor(
    context: Pick<RelayContext, 'relayPath' | 'signal'>,
    options: RelayOptions,
    paths: RelayPaths,
    counters: RelayCounters,
    client: () => EngineClient | undefined,
  ) {
    this.#c = context;
    this.#o = options;
    this.#paths = paths;
    this.#counters = counters;
    this.#client = client;
    this.#maxPaths = options.maxPaths ?? 4096;
    const offer = options.offer;
    if (offer !== undefined) {
      this.#sourceGates = new SourceGates(offer.perSource ?? DEFAULT_PER_SOURCE, offer.maxSources ?? 4096);
      this.#totalGate = new RateGate(offer.total ?? DEFAULT_TOTAL);
    }
  }

  /** Nodes registered with us. */
  get servedCount(): number {
    return this.#served.size;
  }

  /** Sources whose rate state is kept now. */
  get sourceCount(): number {
    return this.#sourceGates?.size ?? 0;
  }

  /** `node`'s link went down: it is no longer served, nor a recent source. */
  peerDown(node: NodeId): void {
    this.#served.delete(node);
    this.#recentSources.delete(node);
  }

  /**
   * As a relay: checks the policy and limits, then passes the sealed bytes on unopened. `received`
   * is the message `frame` came in: the buffer it was read into goes back to the transport once the
   * sealed bytes are copied into the outgoing frame (see `#passOn`), not before.
   */
  forward(from: NodeId, frame: ForwardFrame, received: EngineMessage): undefined | Promise<void> {
    const { dst, expiry, ref, sealed, hops } = frame;
    // The node that sealed it: the sender itself on the first hop, named by the previous relay after.
    const source = frame.origin ?? from;
    const offer = this.#o.offer;
    if (expiry <= Date.now() || !isBucketSize(sealed.length)) {
      this.#counters.relayDropped++;
      return;
    }
    const refusal = this.#admitForward(offer, from, sealed.length);
    if (refusal !== undefined || offer === undefined) {
      this.#refuse(from, ref, refusal ?? 'not-served');
      return;
    }
    const client = this.#client()!;
    remember(this.#recentSources, from, true, this.#maxPaths);
    this.#o.tap?.({ from, destination: dst, expiry, sealed });
    // Served: nodes registered with us, and sources of recent traffic (their replies come back this way).
    const served = this.#served.has(dst) || this.#recentSources.has(dst);
    if (served && this.#c.relayPath.isConnected(dst)) {
      if (this.#c.relayPath.queuedTo(dst) >= (offer.queuePerDestination ?? DEFAULT_QUEUE_PER_DESTINATION)) {
        return this.#holdBack(from, ref, dst, source, expiry, sealed, offer, received);
      }
      this.#deliverTo(dst, source, expiry, sealed, received);
      return;
    }
    if (offer.multiHop && hops + 1 < (offer.maxHops ?? 2)) {
      const next = this.#paths.relaysFor(dst).find((r) => r !== from && this.#c.relayPath.isConnected(r));
      if (next !== undefined) {
        this.#counters.forwardedMultiHop++;
        const onward = encodeForward(dst, expiry, 0, sealed, hops + 1, source);
        this.#passOn(onward, sealed, received);
        client.send({ node: next, name: RELAY_ENGINE }, onward, {
          expiry,
          protocol: RELAY_PROTOCOL,
        });
        return;
      }
    }
    this.#refuse(from, ref, 'not-served');
  }

  #deliverTo(dst: NodeId, source: NodeId, expiry: number, sealed: Uint8Array, received: EngineMessage): void {
    this.#counters.forwarded++;
    // As a Relay frame, straight onto the connection to `dst` when nothing waits before it: the
    // sealed bytes are copied there now, so the buffer they were read into goes back at once.
    if (
      sealed.length <= MAX_FRAME_SEALED_BYTES &&
      this.#c.relayPath.sendRelayFrame?.(dst, deliverFrameHead(source, expiry, sealed.length), sealed)
    ) {
      this.#counters.sentAsFrames++;
      releaseMessageBytes(received);
      return;
    }
    const body = encodeDeliver(source, expiry, sealed);
    this.#passOn(body, sealed, received);
    this.#client()?.send({ node: dst, name: RELAY_ENGINE }, body, { expiry, protocol: RELAY_PROTOCOL });
  }

  /**
   * `body` refers to sealed bytes that lie in `received`'s frame buffer: that buffer goes back to
   * the transport once the link has copied `body` into its outgoing frame. A body never encoded
   * (dropped, expired) leaves the buffer to the GC.
   */
  #passOn(body: object, sealed: Uint8Array, received: EngineMessage): void {
    // Only a large frame is read into a pooled buffer: a small one (a lone request's) has none to
    // hand back, and its body needs no lease.
    if (sealed.length >= MIN_POOLED_FRAME_BYTES / 2)
      releaseWhenEncoded(body, () => releaseMessageBytes(received));
  }

  /**
   * The queue to `dst` is full: the relay engine takes nothing more (its mailbox fills and reading
   * from its links pauses, so the sources slow down) until that queue is down to half, for at most
   * `holdMs` and the message's expiry; then the message goes on, or its source is told `over-capacity`.
   */
  async #holdBack(
    from: NodeId,
    ref: number,
    dst: NodeId,
    source: NodeId,
    expiry: number,
    sealed: Uint8Array,
    offer: RelayOffer,
    received: EngineMessage,
  ): Promise<void> {
    const low = (offer.queuePerDestination ?? DEFAULT_QUEUE_PER_DESTINATION) / 2;
    const until = Math.min(expiry, Date.now() + (offer.holdMs ?? DEFAULT_HOLD_MS));
    const path = this.#c.relayPath;
    this.#counters.heldBack++;
    while (path.isConnected(dst) && path.queuedTo(dst) > low && Date.now() < until) {
      if (this.stopping || this.#c.signal.aborted) return;
      // Polled: the queue shrinks as the connection drains, and offers no "below the mark" event.
      await new Promise((resolve) => setTimeout(resolve, HOLD_POLL_MS));
    }
    if (path.isConnected(dst) && path.queuedTo(dst) <= low && Date.now() < expiry) {
      this.#deliverTo(dst, source, expiry, sealed, received);
    } else this.#refuse(from, ref, 'over-capacity');
  }

  /** Policy, then the total and the per-source limits; the refusal, or undefined to go ahead. */
  #admitForward(offer: RelayOffer | undefined, from: NodeId, bytes: number): RefusalCode | undefined {
    if (offer === undefined) return 'not-served';
    // The policy judges the node that hands us the message (the previous relay, after the first hop).
    if (!admits(offer.policy, from)) return 'source-not-allowed';
    if (!this.#totalGate!.take(bytes)) return 'rate-total';
    if (!this.#sourceGates!.take(from, bytes)) return 'rate-source';
    return undefined;
  }

  #refuse(source: NodeId, ref: number, code: RefusalCode): void {
    this.#counters.refused[code]++;
    if (!this.#refusalGate.take(1)) {
      this.#counters.relayDropped++;
      return;
    }
    this.#client()?.send({ node: source, name: RELAY_ENGINE }, encodeRefused(ref, code), {
      ttlMs: 10_000,
      protocol: RELAY_PROTOCOL,
    });
  }

  /** As a relay: a node asks to be reached through us. */
  register(message: EngineMessage, node: NodeId): void {
    const offer = this.#o.offer;
    const client = this.#client()!;
    const full = this.#served.size >= (offer?.maxServed ?? 4096) && !this.#served.has(node);
    if (offer === undefined || !admits(offer.policy, node) || full) {
      const code: RefusalCode = offer === undefined || full ? 'not-served' : 'source-not-allowed';
      this.#counters.refused[code]++;
      client.reply(message, encodeRefused(0, code), { protocol: RELAY_PROTOCOL });
      return;
    }
    this.#served.add(node);
    client.reply(message, [Kind.Registered], { protocol: RELAY_PROTOCOL });
  }
}
