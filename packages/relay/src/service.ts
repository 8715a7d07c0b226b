import {
  type EngineAddress,
  type EngineClient,
  type EngineMessage,
  isExpired,
  MessageExpiredError,
  type NodeId,
  NotStartedError,
  type RelayRoute,
} from '@netmachine/core';
import { decodeFrameBody, FrameTag, messageFromWire, type WireMessage } from '@netmachine/transport/wire';
import { MalformedRelayMessageError, NoRelayPathError, RelayEnvelopeMismatchError } from './errors.js';
import { InFlightRing } from './in-flight.js';
import { isBucketSize } from './padding.js';
import { PendingMessages } from './pending.js';
import {
  admits,
  DEFAULT_PER_SOURCE,
  DEFAULT_TOTAL,
  RateGate,
  type RelayOffer,
  SourceGates,
} from './policy.js';
import {
  decodeRelayFrame,
  encodeDeliver,
  encodeForward,
  encodeRefused,
  type ForwardFrame,
  Kind,
  RELAY_ENGINE,
  RELAY_PROTOCOL,
  type RefusalCode,
  refusalError,
} from './protocol.js';
import { RelayPaths, remember } from './relay-paths.js';
import { SealBatcher } from './seal-batcher.js';
import { RelayOpener, RelaySealer } from './sealing.js';
import {
  type RelayContext,
  type RelayCounters,
  type RelayOptions,
  type RelayPathView,
  type RelayService,
  zeroCounters,
} from './service-types.js';
import { TokenBucket } from './token-bucket.js';

const IN_FLIGHT_SLOTS = 4096;
const DEFAULT_QUEUE_PER_DESTINATION = 512;
const DEFAULT_HOLD_MS = 1000;
const HOLD_POLL_MS = 1;
const REFUSALS_PER_SECOND = 50;

/**
 * The relay service factory: `createNode({ services: { relay: relay({ offer, use }) } })`. Every node
 * that runs it can send through relays and be reached through them; a node with an `offer` also
 * relays for others.
 */
export function relay(options: RelayOptions = {}): (context: RelayContext) => RelayService {
  return (context) => new RelayEngine(context, options);
}

type Context = RelayContext;

class RelayEngine implements RelayService, RelayRoute {
  readonly #c: Context;
  readonly #o: RelayOptions;
  readonly #sealer: RelaySealer;
  readonly #opener: RelayOpener;
  readonly #counters: RelayCounters;
  readonly #sourceGates: SourceGates | undefined;
  readonly #totalGate: RateGate | undefined;
  /** Refusals sent, over all sources: a flood is not answered with a flood. */
  readonly #refusalGate = new TokenBucket(REFUSALS_PER_SECOND, REFUSALS_PER_SECOND);
  readonly #served = new Set<NodeId>();
  /** Nodes that sent through us lately: a reply to one of them is served while its link is up. */
  readonly #recentSources = new Map<NodeId, true>();
  readonly #registered = new Set<NodeId>();
  readonly #inFlight = new InFlightRing(IN_FLIGHT_SLOTS);
  readonly #pending: PendingMessages;
  readonly #paths: RelayPaths;
  readonly #batcher: SealBatcher;
  readonly #maxPaths: number;
  #roomParked = 0;
  #stopping = false;
  #roomWaiter: (() => void) | undefined;
  #client: EngineClient | undefined;
  #unsubscribe: (() => void) | undefined;
  #sweep: NodeJS.Timeout | undefined;

  constructor(context: Context, options: RelayOptions) {
    this.#c = context;
    this.#o = options;
    this.#sealer = new RelaySealer(context.keyPair, options.sealing);
    this.#opener = new RelayOpener(context.keyPair, options.sealing);
    this.#maxPaths = options.maxPaths ?? 4096;
    this.#paths = new RelayPaths(context, options);
    this.#pending = new PendingMessages(options.pendingPerDestination ?? 1024, options.maxPending ?? 8192);
    this.#counters = zeroCounters();
    this.#batcher = new SealBatcher(
      context.relayPath,
      options,
      this.#sealer,
      this.#inFlight,
      this.#counters,
      () => this.#client,
    );
    const offer = options.offer;
    if (offer !== undefined) {
      this.#sourceGates = new SourceGates(offer.perSource ?? DEFAULT_PER_SOURCE, offer.maxSources ?? 4096);
      this.#totalGate = new RateGate(offer.total ?? DEFAULT_TOTAL);
    }
  }

  async start(): Promise<void> {
    if (this.#client !== undefined) return;
    // A full mailbox pauses reading from the links that fill it (backpressure, as for any engine):
    // a flood cannot grow memory, and a relay that holds back for a slow destination slows its sources.
    this.#client = this.#c.router.client(RELAY_ENGINE, (message) => this.#onMessage(message), {
      mailboxSize: 4096,
      mailboxPolicy: 'wait',
    });
    this.#c.relayPath.setRelayRoute(this);
    const offConnected = this.#c.peers.events.on('peer:connected', (event) => this.#peerUp(event.node));
    const offDisconnected = this.#c.peers.events.on('peer:disconnected', (event) => {
      this.#served.delete(event.node);
      this.#recentSources.delete(event.node);
      this.#registered.delete(event.node);
    });
    this.#unsubscribe = () => {
      offConnected();
      offDisconnected();
    };
    for (const relayNode of this.#o.use ?? []) this.#keepLinkTo(relayNode);
  }

  /** A permanent link to one of our relays; the Transport engine starts after the services, so wait for it. */
  #keepLinkTo(relayNode: NodeId): void {
    if (this.#client === undefined || this.#c.signal.aborted) return;
    this.#c.relayPath
      .connect(relayNode, { permanent: true, signal: this.#c.signal })
      .catch((error: unknown) => {
        if (error instanceof NotStartedError) setTimeout(() => this.#keepLinkTo(relayNode), 20).unref();
        else this.#c.logger.debug({ relay: relayNode, err: error }, 'relay not reachable yet');
      });
  }

  async stop(): Promise<void> {
    if (this.#client === undefined) return;
    this.#unsubscribe?.();
    this.#c.relayPath.setRelayRoute(undefined);
    clearInterval(this.#sweep);
    this.#sweep = undefined;
    const stopped = new NoRelayPathError('(relay service stopped)' as NodeId);
    for (const message of this.#pending.drainAll()) this.#c.relayPath.undeliverable(message, stopped);
    this.#batcher.flush();
    // A hold or a wait for room in progress ends now, so the mailbox can stop.
    this.#stopping = true;
    this.#roomParked = 1;
    this.#onRoom();
    await this.#client.stop();
    this.#stopping = false;
    this.#client = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  counters(): RelayCounters {
    const c = this.#counters;
    return {
      ...c,
      refusedBack: { ...c.refusedBack },
      refused: { ...c.refused },
      openFailed: { ...c.openFailed },
      served: this.#served.size,
      sources: this.#sourceGates?.size ?? 0,
      sessionsStarted: this.#sealer.sessionsStarted,
      sessionsOpened: this.#opener.sessionsOpened,
    };
  }

  registeredWith(): NodeId[] {
    return [...this.#registered];
  }

  relayedPaths(): Record<NodeId, NodeId> {
    return this.#paths.relayed();
  }

  pathTo(node: NodeId): RelayPathView | undefined {
    if (this.#c.relayPath.isConnected(node)) return { via: 'direct' };
    const via = this.#paths.pickRelay(node) ?? this.#paths.relaysFor(node)[0];
    return via === undefined ? undefined : { via: 'relay', relay: via };
  }

  // --- RelayRoute: the Transport engine asks about nodes without a direct connection ------------

  reaches(node: NodeId): boolean {
    return this.#paths.reaches(node);
  }

  takes(message: EngineMessage, directUsable: boolean): boolean {
    // Relay protocol messages themselves never nest in another relay.
    if (message.protocol === RELAY_PROTOCOL) return false;
    const dst = (message.dst as EngineAddress).node;
    if (directUsable && !this.#paths.prefersRelay(dst)) return false;
    // A batch to `dst` is open in this task: the rest of the task goes the same way, without
    // looking up the node's relays again for every message.
    const open = this.#batcher.openVia(dst);
    if (open !== undefined && this.#c.relayPath.isConnected(open)) {
      this.#batcher.add(message, open);
      return true;
    }
    const relays = this.#paths.relaysFor(dst);
    if (relays.length === 0) return false;
    const via = relays.find((r) => this.#c.relayPath.isConnected(r));
    if (via !== undefined) {
      this.#batcher.add(message, via);
      return true;
    }
    // No relay link is up: wait (until expiry) for one, and ask for all of them.
    const deadline = message.expiry ?? Date.now() + (this.#o.defaultTtlMs ?? 30_000);
    if (!this.#pending.push(dst, message, deadline)) {
      this.#counters.noRelay++;
      this.#c.relayPath.undeliverable(message, new NoRelayPathError(dst));
      return true;
    }
    this.#armSweep();
    for (const r of relays) {
      this.#c.relayPath.connect(r).catch((error: unknown) => {
        this.#c.logger.debug({ relay: r, err: error }, 'relay dial failed');
      });
    }
    return true;
  }

  directFailed(node: NodeId): void {
    this.#paths.directFailed(node);
  }

  #peerUp(node: NodeId): void {
    if (this.#o.use?.includes(node)) void this.#register(node);
    // A relay (or the destination itself) came up: what waited for it goes now.
    for (const dst of this.#pending.destinations()) {
      if (dst !== node && !this.#paths.relaysFor(dst).includes(node)) continue;
      for (const message of this.#pending.take(dst)) {
        if (isExpired(message)) {
          this.#counters.pendingExpired++;
          this.#c.relayPath.undeliverable(message, new MessageExpiredError(dst));
        } else this.#resend(dst, message);
      }
    }
  }

  /** A message that waited: direct if a connection is up now, else through a relay (counted once, when first taken). */
  #resend(dst: NodeId, message: EngineMessage): void {
    if (this.#c.relayPath.isConnected(dst)) {
      this.#c.relayPath.send(message);
      return;
    }
    const via = this.#paths.pickRelay(dst);
    if (via !== undefined) {
      this.#batcher.add(message, via);
      return;
    }
    const deadline = message.expiry ?? Date.now() + (this.#o.defaultTtlMs ?? 30_000);
    if (this.#pending.push(dst, message, deadline)) this.#armSweep();
    else this.#c.relayPath.undeliverable(message, new NoRelayPathError(dst));
  }

  async #register(relayNode: NodeId): Promise<void> {
    const client = this.#client;
    if (client === undefined) return;
    try {
      const reply = await client.request({ node: relayNode, name: RELAY_ENGINE }, [Kind.Register], {
        protocol: RELAY_PROTOCOL,
        timeoutMs: 10_000,
        signal: this.#c.signal,
      });
      const frame = decodeRelayFrame(reply.body);
      if (frame.kind === Kind.Registered) this.#registered.add(relayNode);
      else if (frame.kind === Kind.Refused) {
        this.#c.logger.warn({ relay: relayNode, code: frame.code }, 'relay refused to serve this node');
      }
    } catch (error) {
      this.#c.logger.debug({ relay: relayNode, err: error }, 'relay registration failed');
    }
  }

  #armSweep(): void {
    if (this.#sweep !== undefined) return;
    this.#sweep = setInterval(() => {
      for (const message of this.#pending.removeExpired(Date.now())) {
        this.#counters.pendingExpired++;
        this.#c.relayPath.undeliverable(
          message,
          new MessageExpiredError((message.dst as EngineAddress).node),
        );
      }
      if (this.#pending.size === 0) {
        clearInterval(this.#sweep);
        this.#sweep = undefined;
      }
    }, 100);
    this.#sweep.unref();
  }

  // --- the relay engine's mailbox ---------------------------------------------------------------

  /** Sync on the hot path; a promise only while holding back (a slow destination, a full receiver). */
  #onMessage(message: EngineMessage): undefined | Promise<void> {
    if (message.protocol !== RELAY_PROTOCOL) return;
    let frame: ReturnType<typeof decodeRelayFrame>;
    try {
      frame = decodeRelayFrame(message.body);
    } catch {
      this.#counters.malformed++;
      return;
    }
    const from = message.src.node;
    switch (frame.kind) {
      case Kind.Forward:
        return this.#forward(from, frame);
      case Kind.Deliver:
        return this.#open(from, frame.src, frame.expiry, frame.sealed);
      case Kind.Refused:
        this.#refusedBack(from, frame.ref, frame.code);
        return;
      case Kind.Register:
        this.#registerSource(message, from);
        return;
      default:
        return;
    }
  }

  /** As a relay: checks the policy and limits, then passes the sealed bytes on unopened. */
  #forward(from: NodeId, frame: ForwardFrame): undefined | Promise<void> {
    const { dst, expiry, ref, sealed, hops } = frame;
    // The node that sealed it: the sender itself on the first hop, named by the previous relay after.
    const source = frame.origin ?? from;
    const offer = this.#o.offer;
    if (dst === this.#c.node) {
      // Sealed to us: we are the destination, not a relay.
      return this.#open(from, source, expiry, sealed);
    }
    if (expiry <= Date.now() || !isBucketSize(sealed.length)) {
      this.#counters.relayDropped++;
      return;
    }
    const refusal = this.#admitForward(offer, from, sealed.length);
    if (refusal !== undefined || offer === undefined) {
      this.#refuse(from, ref, refusal ?? 'not-served');
      return;
    }
    const client = this.#client!;
    remember(this.#recentSources, from, true, this.#maxPaths);
    this.#o.tap?.({ from, destination: dst, expiry, sealed });
    // Served: nodes registered with us, and sources of recent traffic (their replies come back this way).
    const served = this.#served.has(dst) || this.#recentSources.has(dst);
    if (served && this.#c.relayPath.isConnected(dst)) {
      if (this.#c.relayPath.queuedTo(dst) >= (offer.queuePerDestination ?? DEFAULT_QUEUE_PER_DESTINATION)) {
        return this.#holdBack(from, ref, dst, source, expiry, sealed, offer);
      }
      this.#deliverTo(dst, source, expiry, sealed);
      return;
    }
    if (offer.multiHop && hops + 1 < (offer.maxHops ?? 2)) {
      const next = this.#paths.relaysFor(dst).find((r) => r !== from && this.#c.relayPath.isConnected(r));
      if (next !== undefined) {
        this.#counters.forwardedMultiHop++;
        const onward = encodeForward(dst, expiry, 0, sealed, hops + 1, source);
        client.send({ node: next, name: RELAY_ENGINE }, onward, {
          expiry,
          protocol: RELAY_PROTOCOL,
        });
        return;
      }
    }
    this.#refuse(from, ref, 'not-served');
  }

  #deliverTo(dst: NodeId, source: NodeId, expiry: number, sealed: Uint8Array): void {
    this.#counters.forwarded++;
    this.#client?.send({ node: dst, name: RELAY_ENGINE }, encodeDeliver(source, expiry, sealed), {
      expiry,
      protocol: RELAY_PROTOCOL,
    });
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
  ): Promise<void> {
    const low = (offer.queuePerDestination ?? DEFAULT_QUEUE_PER_DESTINATION) / 2;
    const until = Math.min(expiry, Date.now() + (offer.holdMs ?? DEFAULT_HOLD_MS));
    const path = this.#c.relayPath;
    this.#counters.heldBack++;
    while (path.isConnected(dst) && path.queuedTo(dst) > low && Date.now() < until) {
      if (this.#stopping || this.#c.signal.aborted) return;
      // Polled: the queue shrinks as the connection drains, and offers no "below the mark" event.
      await new Promise((resolve) => setTimeout(resolve, HOLD_POLL_MS));
    }
    if (path.isConnected(dst) && path.queuedTo(dst) <= low && Date.now() < expiry) {
      this.#deliverTo(dst, source, expiry, sealed);
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
    this.#client?.send({ node: source, name: RELAY_ENGINE }, encodeRefused(ref, code), {
      ttlMs: 10_000,
      protocol: RELAY_PROTOCOL,
    });
  }

  /** As a relay: a node asks to be reached through us. */
  #registerSource(message: EngineMessage, node: NodeId): void {
    const offer = this.#o.offer;
    const client = this.#client!;
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

  /**
   * As a destination: opens, checks and delivers a message that came through relay `via`. When the
   * receiving engine is full, the relay engine waits for room (so reading from the relay pauses).
   */
  #open(via: NodeId, source: NodeId, expiry: number, sealed: Uint8Array): undefined | Promise<void> {
    let inners: Uint8Array[];
    try {
      inners = this.#opener.openMany(source, sealed, expiry);
    } catch (error) {
      this.#openFailed(error, source, via);
      return;
    }
    if (via !== source) this.#paths.learnReturnPath(source, via);
    this.#roomParked = 0;
    for (const record of inners) {
      let inner: EngineMessage;
      try {
        // Each record is a link's Message frame (tag, then the message), decoded as a link decodes it.
        if (record[0] !== FrameTag.Message) throw new MalformedRelayMessageError('inner record type');
        const wire = decodeFrameBody(FrameTag.Message, record.subarray(1)) as WireMessage;
        inner = messageFromWire(wire, source, this.#c.node);
        if (inner.expiry !== undefined && inner.expiry > expiry) {
          throw new RelayEnvelopeMismatchError('inner expiry later than the sealed one');
        }
      } catch (error) {
        this.#openFailed(error, source, via);
        continue;
      }
      this.#counters.opened++;
      // A full receiver keeps the message and calls onRoom once for it later.
      if (this.#c.relayPath.deliverRelayed(inner, this.#onRoom) === false) this.#roomParked++;
    }
    if (this.#roomParked <= 0) return;
    return new Promise((resolve) => {
      this.#roomWaiter = resolve;
    });
  }

  #openFailed(error: unknown, source: NodeId, via: NodeId): void {
    const name = (error as Error).name ?? 'Error';
    this.#counters.openFailed[name] = (this.#counters.openFailed[name] ?? 0) + 1;
    this.#c.logger.debug({ source, relay: via, err: error }, 'relayed message refused');
  }

  /**
   * A receiver that was full has room for one of the messages it kept; once all have it, the relay
   * engine goes on (one RelayMessage at a time: the mailbox runs in order).
   */
  readonly #onRoom = (): void => {
    if (--this.#roomParked > 0) return;
    const waiter = this.#roomWaiter;
    this.#roomWaiter = undefined;
    waiter?.();
  };

  /** As a source: a relay refused one of our messages. */
  #refusedBack(relayNode: NodeId, ref: number, code: RefusalCode): void {
    const messages = this.#inFlight.take(relayNode, ref);
    if (messages === undefined) return;
    this.#counters.refusedBack[code]++;
    for (const message of messages) {
      const dst = (message.dst as EngineAddress).node;
      this.#c.relayPath.undeliverable(message, refusalError(code, relayNode, dst));
    }
  }
}
