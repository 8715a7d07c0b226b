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
import { NoRelayPathError } from './errors.js';
import { Forwarder } from './forwarder.js';
import { InFlightRing } from './in-flight.js';
import { decodeRelayLinkFrame } from './link-frames.js';
import { PendingMessages } from './pending.js';
import {
  decodeRelayFrame,
  Kind,
  RELAY_ENGINE,
  RELAY_FRAME_PROTOCOL,
  RELAY_PROTOCOL,
  type RefusalCode,
  refusalError,
} from './protocol.js';
import { RelayPaths } from './relay-paths.js';
import { RelaySealer } from './relay-sealer.js';
import { RelayedReceiver } from './relayed-receiver.js';
import { SealBatcher } from './seal-batcher.js';
import {
  type RelayContext,
  type RelayCounters,
  type RelayOptions,
  type RelayPathView,
  type RelayService,
  relayedExpiry,
  zeroCounters,
} from './service-types.js';

const IN_FLIGHT_SLOTS = 4096;
/**
 * The relay engine's mailbox: what a relay or a destination holds of its links' frames before
 * reading pauses (plus the rest of the read under way, parked). With the 64 a relay may queue to a
 * destination it stays within what the transport's frame pool keeps free (128 buffers per size), so
 * a relay that holds back reads its next batches into reused buffers.
 */
const RELAY_MAILBOX = 64;
/**
 * Frames kept behind a full mailbox: a link parks one and stops reading, so this is how many links
 * may wait on a relay that holds back (as many as the sources it keeps state for) before one's frame
 * is dropped.
 */
const RELAY_MAX_PARKED = 4096;

/**
 * The relay service factory: `createNode({ services: { relay: relay({ offer, use }) } })`. Every node
 * that runs it can send through relays and be reached through them; a node with an `offer` also
 * relays for others.
 */
export function relay(options: RelayOptions = {}): (context: RelayContext) => RelayService {
  return (context) => new RelayEngine(context, options);
}

type Context = RelayContext;

const isRelayProtocol = (protocol: string): boolean =>
  protocol === RELAY_PROTOCOL || protocol === RELAY_FRAME_PROTOCOL;

class RelayEngine implements RelayService, RelayRoute {
  readonly #c: Context;
  readonly #o: RelayOptions;
  readonly #sealer: RelaySealer;
  readonly #counters: RelayCounters;
  readonly #registered = new Set<NodeId>();
  readonly #inFlight = new InFlightRing(IN_FLIGHT_SLOTS);
  readonly #pending: PendingMessages;
  readonly #paths: RelayPaths;
  readonly #batcher: SealBatcher;
  readonly #forwarder: Forwarder;
  readonly #receiver: RelayedReceiver;
  #client: EngineClient | undefined;
  #unsubscribe: (() => void) | undefined;
  #sweep: NodeJS.Timeout | undefined;

  constructor(context: Context, options: RelayOptions) {
    this.#c = context;
    this.#o = options;
    this.#sealer = new RelaySealer(context.keyPair, options.sealing);
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
    const client = () => this.#client;
    this.#forwarder = new Forwarder(context, options, this.#paths, this.#counters, client);
    this.#receiver = new RelayedReceiver(context, options, this.#paths, this.#counters);
  }

  async start(): Promise<void> {
    if (this.#client !== undefined) return;
    // A full mailbox pauses reading from the links that fill it (backpressure, as for any engine):
    // a flood cannot grow memory, and a relay that holds back for a slow destination slows its sources.
    // A frame that finds the engine idle is handled in the read that brought it (`runOnArrival`): a
    // relay passes it on, a destination opens it, with no pass through the mailbox on the way.
    this.#client = this.#c.router.client(RELAY_ENGINE, (message) => this.#onMessage(message), {
      mailboxSize: RELAY_MAILBOX,
      maxParked: RELAY_MAX_PARKED,
      mailboxPolicy: 'wait',
      runOnArrival: true,
    });
    this.#c.relayPath.setRelayRoute(this);
    const offConnected = this.#c.peers.events.on('peer:connected', (event) => this.#peerUp(event.node));
    const offDisconnected = this.#c.peers.events.on('peer:disconnected', (event) => {
      this.#forwarder.peerDown(event.node);
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
    this.#forwarder.stopping = true;
    this.#receiver.release();
    await this.#client.stop();
    this.#forwarder.stopping = false;
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
      served: this.#forwarder.servedCount,
      sources: this.#forwarder.sourceCount,
      sessionsStarted: this.#sealer.sessionsStarted,
      sessionsOpened: this.#receiver.sessionsOpened,
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
    if (isRelayProtocol(message.protocol)) return false;
    const dst = (message.dst as EngineAddress).node;
    if (directUsable && !this.#paths.prefersRelay(dst)) return false;
    // A batch to `dst` is open in this task: the rest of the task goes the same way, without
    // looking up the node's relays again for every message.
    const open = this.#batcher.openVia(dst);
    if (open !== undefined && this.#c.relayPath.isConnected(open)) {
      this.#batcher.add(message, open);
      return true;
    }
    const via = this.#paths.pickRelay(dst);
    if (via !== undefined) {
      this.#batcher.add(message, via);
      return true;
    }
    const relays = this.#paths.relaysFor(dst);
    if (relays.length === 0) return false;
    // No relay link is up: wait (until expiry) for one, and ask for all of them.
    const deadline = relayedExpiry(message, this.#o);
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

  joinsOpenBatch(message: EngineMessage): boolean {
    // Relay protocol messages themselves never nest in another relay.
    return !isRelayProtocol(message.protocol) && this.#batcher.join(message);
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
    const deadline = relayedExpiry(message, this.#o);
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
    const protocol = message.protocol;
    if (protocol !== RELAY_FRAME_PROTOCOL && protocol !== RELAY_PROTOCOL) return;
    let frame: ReturnType<typeof decodeRelayFrame>;
    try {
      // A Relay link frame (a Forward or Deliver), or any frame as an engine message.
      frame =
        protocol === RELAY_FRAME_PROTOCOL
          ? decodeRelayLinkFrame(message.body)
          : decodeRelayFrame(message.body);
    } catch {
      this.#counters.malformed++;
      return;
    }
    const from = message.src.node;
    switch (frame.kind) {
      case Kind.Forward:
        // Sealed to us: we are the destination, not a relay. The node that sealed it is the sender
        // itself on the first hop, named by the previous relay after.
        if (frame.dst === this.#c.node) {
          return this.#receiver.open(from, frame.origin ?? from, frame.expiry, frame.sealed, message);
        }
        return this.#forwarder.forward(from, frame, message);
      case Kind.Deliver:
        return this.#receiver.open(from, frame.src, frame.expiry, frame.sealed, message);
      case Kind.Refused:
        this.#refusedBack(from, frame.ref, frame.code);
        return;
      case Kind.Register:
        this.#forwarder.register(message, from);
        return;
      default:
        return;
    }
  }

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
