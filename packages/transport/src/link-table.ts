import {
  ConnectionClosedError,
  type EngineMessage,
  type Logger,
  type MessageSink,
  type NodeId,
  type RelayRoute,
} from '@netmachine/core';
import type { BackoffOptions } from './backoff.js';
import type { ConnectionSession } from './connection-session.js';
import type { TransportCounters, TransportDropReason } from './counters.js';
import { ClosedTraffic } from './engine-status.js';
import type { TransportEvents } from './events.js';
import type { TransportLimits } from './limits.js';
import { type LinkHost, NodeLink } from './node-link.js';
import { QueueBudget } from './node-queue.js';
import type { SessionRegistry } from './session-registry.js';

export interface LinkTableOptions {
  /** Our own node: the tie-break between two connections to the same node. */
  readonly local: NodeId;
  readonly limits: TransportLimits;
  readonly backoff: BackoffOptions;
  readonly counters: TransportCounters;
  readonly logger: Logger;
  readonly events: TransportEvents;
  readonly sessions: SessionRegistry;
  readonly running: () => boolean;
  /** Read at each use: the engine's relay route and sink can be set at any time. */
  readonly relay: () => RelayRoute | undefined;
  readonly sink: () => MessageSink | undefined;
  dial(link: NodeLink, signal: AbortSignal): Promise<ConnectionSession>;
  undeliverable(message: EngineMessage, error: Error, reason: TransportDropReason): void;
}

/**
 * The engine's links, one per peer node, and what happens to them between messages: a session
 * adopted or lost, a dial failed (the queue then goes the relay way when it can), a link gone idle.
 * The engine reads `byNode` directly on the message path; nothing here runs per message.
 */
export class LinkTable implements LinkHost {
  readonly byNode = new Map<NodeId, NodeLink>();
  readonly closedTraffic = new ClosedTraffic();
  readonly queueSize: number;
  readonly queueBudget: QueueBudget;
  readonly defaultQueueTtlMs: number;
  readonly idleTimeoutMs: number;
  readonly backoff: BackoffOptions;
  // The engine's own functions, not wrappers: a dropped message costs no extra call.
  readonly dial: LinkHost['dial'];
  readonly undeliverable: LinkHost['undeliverable'];
  readonly #o: LinkTableOptions;

  constructor(options: LinkTableOptions) {
    this.#o = options;
    this.queueSize = options.limits.queueSize;
    this.queueBudget = new QueueBudget(options.limits.maxQueuedTotal);
    this.defaultQueueTtlMs = options.limits.defaultQueueTtlMs;
    this.idleTimeoutMs = options.limits.idleTimeoutMs;
    this.backoff = options.backoff;
    this.dial = options.dial;
    this.undeliverable = options.undeliverable;
  }

  /** The node's link, made if it has none. */
  link(node: NodeId): NodeLink {
    let link = this.byNode.get(node);
    if (link === undefined) {
      link = new NodeLink(node, this);
      this.byNode.set(node, link);
    }
    return link;
  }

  connectFailed(link: NodeLink, error: Error, attempt: number): void {
    this.#o.counters.connectFailures++;
    this.#o.logger.debug({ peer: link.node, err: error, attempt }, 'connect failed');
    this.#o.events.emit({ type: 'peer:connect-failed', node: link.node, error, attempt });
    this.#moveToRelay(link, error);
  }

  queueFull(link: NodeLink): void {
    this.#o.events.emit({ type: 'queue:full', node: link.node, capacity: link.queue.capacity });
  }

  idle(link: NodeLink): void {
    if (!link.busy && this.byNode.get(link.node) === link) {
      this.byNode.delete(link.node);
      this.closedTraffic.forget(link.node);
    }
  }

  /** A session just opened: note which version of our advert its peer holds, then adopt it. */
  opened(session: ConnectionSession): void {
    this.#o.sessions.opened(session);
    this.#adopt(session);
  }

  /** A session closed: its traffic stays counted while the node has a link. */
  closed(session: ConnectionSession, error: Error | undefined): void {
    this.#o.sessions.delete(session);
    if (this.byNode.has(session.peer)) this.closedTraffic.add(session.peer, session.traffic);
    this.lose(session, error);
  }

  lose(session: ConnectionSession, error: Error | undefined): void {
    const link = this.byNode.get(session.peer);
    if (link === undefined || !link.lose(session)) return;
    const o = this.#o;
    o.counters.disconnects++;
    o.logger.debug({ peer: session.peer, err: error }, 'node disconnected');
    o.events.emit({ type: 'peer:disconnected', node: session.peer, error });
    // Only a failed connection loses what was on it; after a clean close (idle, the peer stopping)
    // a late reply can still come over a new connection.
    if (error === undefined) return;
    const lost =
      error instanceof ConnectionClosedError
        ? error
        : new ConnectionClosedError(`connection to ${session.peer} failed: ${error.message}`, {
            cause: error,
          });
    try {
      o.sink()?.connectionLost?.(session.peer, lost);
    } catch (sinkError) {
      o.logger.error({ err: sinkError }, 'message sink threw in connectionLost');
    }
  }

  /**
   * Makes an open session the node's active one. When both nodes dialed at once there are two:
   * both sides keep the one dialed by the node with the smaller id, so they agree without talking.
   */
  #adopt(session: ConnectionSession): void {
    if (!this.#o.running() || session.state !== 'open') {
      void session.close('shutdown');
      return;
    }
    const link = this.link(session.peer);
    const current = link.session;
    if (current !== undefined && current !== session) {
      this.#o.counters.duplicateConnections++;
      const keep = this.#preferred(current, session);
      const drop = keep === current ? session : current;
      // Switch before closing, so the link is never without a session (and never forgotten).
      if (keep === session) link.attach(session);
      void drop.close('duplicate', 'another connection to the same node won');
      return;
    }
    this.#o.counters.connectsOk++;
    link.attach(session);
    this.#o.logger.debug({ peer: session.peer, direction: session.direction }, 'node connected');
    this.#o.events.emit({
      type: 'peer:connected',
      node: session.peer,
      direction: session.direction,
      protocol: session.connection.protocol,
      remoteAddress: session.connection.remoteAddress,
    });
  }

  #preferred(a: ConnectionSession, b: ConnectionSession): ConnectionSession {
    if (a.direction === b.direction) return b; // the newer one: the old one is likely stale
    const dialerOf = (s: ConnectionSession): NodeId => (s.direction === 'outbound' ? this.#o.local : s.peer);
    return dialerOf(a) < dialerOf(b) ? a : b;
  }

  /** A direct dial failed: what waits for the node goes the relay way, when the relay path has one. */
  #moveToRelay(link: NodeLink, error: Error): void {
    const relay = this.#o.relay();
    if (relay === undefined || !relay.reaches(link.node)) return;
    relay.directFailed(link.node, error);
    for (const message of link.queue.drain()) {
      if (relay.takes(message, true)) this.#o.counters.relayedOut++;
      else link.send(message);
    }
    link.queueTaken();
  }
}
