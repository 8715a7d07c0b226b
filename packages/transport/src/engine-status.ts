import type { NodeId } from '@netmachine/core';
import type { ConnectionSession } from './connection-session.js';
import {
  newPeerTrafficCounters,
  type PeerTrafficCounters,
  type TransportCounters,
  type TransportCountersSnapshot,
} from './counters.js';
import type { NodeLink } from './node-link.js';

// What the engine reports about itself (counters, per-peer traffic), read off its links and
// sessions on demand: nothing here runs on the message path.

/** Traffic of the closed connections to each node that still has a link (one entry per link, at most). */
export class ClosedTraffic {
  readonly #byNode = new Map<NodeId, PeerTrafficCounters>();

  /** Adds a closed session's traffic to its node's total. */
  add(node: NodeId, traffic: PeerTrafficCounters): void {
    let total = this.#byNode.get(node);
    if (total === undefined) {
      total = newPeerTrafficCounters();
      this.#byNode.set(node, total);
    }
    addTraffic(total, traffic);
  }

  /** The node's link is gone: its count starts again with the next one. */
  forget(node: NodeId): void {
    this.#byNode.delete(node);
  }

  get(node: NodeId): PeerTrafficCounters | undefined {
    return this.#byNode.get(node);
  }
}

/**
 * Messages and bytes in and out per connected node: the closed connections' totals plus the live
 * sessions' counts. A copy.
 */
export function peerTraffic(
  links: Iterable<NodeLink>,
  sessions: Iterable<ConnectionSession>,
  closed: ClosedTraffic,
): Record<NodeId, PeerTrafficCounters> {
  const out: Record<NodeId, PeerTrafficCounters> = {};
  for (const link of links) {
    if (!link.connected) continue;
    out[link.node] = { ...(closed.get(link.node) ?? newPeerTrafficCounters()) };
  }
  for (const session of sessions) {
    const total = out[session.peer];
    if (total !== undefined) addTraffic(total, session.traffic);
  }
  return out;
}

/** A copy of the engine's counters with the queue depths and connection count of this moment. */
export function countersSnapshot(
  counters: TransportCounters,
  links: Iterable<NodeLink>,
  connections: number,
): TransportCountersSnapshot {
  const queueDepths: Record<string, number> = {};
  let queuedTotal = 0;
  for (const link of links) {
    if (link.queue.length === 0) continue;
    queueDepths[link.node] = link.queue.length;
    queuedTotal += link.queue.length;
  }
  return { ...counters, dropped: { ...counters.dropped }, connections, queuedTotal, queueDepths };
}

function addTraffic(into: PeerTrafficCounters, from: PeerTrafficCounters): void {
  into.messagesIn += from.messagesIn;
  into.messagesOut += from.messagesOut;
  into.bytesIn += from.bytesIn;
  into.bytesOut += from.bytesOut;
}
