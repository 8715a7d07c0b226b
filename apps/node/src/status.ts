import type { NodeId } from '@netmachine/core';
import type { NetmachineNode } from '@netmachine/node';
import type { RouterCounters } from '@netmachine/router';

export interface ConnectionStatus {
  readonly node: NodeId;
  readonly rttMs?: number | undefined;
  /** Messages and bytes in and out on the link to this peer (the link's lifetime). */
  readonly traffic?: PeerTraffic | undefined;
}

/** Counts on one peer link, as the Transport engine's `peerCounters()` gives them. */
export interface PeerTraffic {
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** A node's state as `status()`, `netmachine status --json` and the metrics endpoint see it. */
export interface NodeStatus {
  readonly id: NodeId;
  readonly name?: string | undefined;
  readonly uptimeMs: number;
  readonly listen: readonly string[];
  readonly advertVersion: number;
  readonly connections: readonly ConnectionStatus[];
  readonly router: {
    readonly counters: RouterCounters;
    readonly engines: number;
    readonly pendingRequests: number;
    readonly queueDepths: Record<string, number>;
  };
  readonly transport: {
    readonly bytesIn: number;
    readonly bytesOut: number;
    readonly handshakeFailures: number;
    /** Times reading from a peer was paused because an engine was full (flow control). */
    readonly readPauses: number;
    readonly duplicatesDropped: number;
    /** Messages sent through a relay (no direct connection to their node), and received through one. */
    readonly relayedOut: number;
    readonly relayedIn: number;
    readonly dropped: Record<string, number>;
    readonly queueDepths: Record<string, number>;
  };
  /** Each running service's `counters()`, by service name. */
  readonly services: Readonly<Record<string, object>>;
  /** Nodes this node reaches through a relay now (no direct connection), each with the relay it uses. */
  readonly relayed: Readonly<Record<NodeId, NodeId>>;
  /** The NATS bridge, when the node runs one: its server and the server of each attached process. */
  readonly nats?: NatsStatus | undefined;
}

export interface NatsStatus {
  readonly connected: boolean;
  readonly server: string;
  readonly attachments: readonly { name: string; instance: string; server: string }[];
}

/** The bridge's status, if the node has a `nats` service (read by shape: the package is optional). */
function natsStatus(node: NetmachineNode): NatsStatus | undefined {
  const service = node.services.nats as { status?: () => NatsStatus } | undefined;
  if (typeof service?.status !== 'function') return undefined;
  const { connected, server, attachments } = service.status();
  return { connected, server, attachments };
}

/** A node's state, from its counters (plain objects, so it serialises as JSON). */
export function nodeStatus(node: NetmachineNode): NodeStatus {
  const routerStatus = node.router.status();
  const counters = node.counters();
  const t = counters.transport;
  return {
    id: node.id,
    name: node.name,
    uptimeMs: node.uptimeMs,
    listen: node.running ? node.transport.listenAddresses : [],
    advertVersion: node.currentAdvert?.version ?? 0,
    connections: connections(node),
    router: {
      counters: counters.router,
      engines: routerStatus.engines,
      pendingRequests: routerStatus.pendingRequests,
      queueDepths: routerStatus.queueDepths,
    },
    transport: {
      bytesIn: t.bytesIn,
      bytesOut: t.bytesOut,
      handshakeFailures: t.handshakeFailures,
      readPauses: t.readPauses,
      duplicatesDropped: t.duplicatesDropped,
      relayedOut: t.relayedOut,
      relayedIn: t.relayedIn,
      dropped: t.dropped,
      queueDepths: t.queueDepths,
    },
    services: counters.services,
    relayed: relayedPaths(node),
    nats: natsStatus(node),
  };
}

/** The relay service's relayed paths, if the node runs one (read by shape: the package is optional). */
function relayedPaths(node: NetmachineNode): Record<NodeId, NodeId> {
  const service = node.services.relay as { relayedPaths?: () => Record<NodeId, NodeId> } | undefined;
  return typeof service?.relayedPaths === 'function' ? service.relayedPaths() : {};
}

function connections(node: NetmachineNode): ConnectionStatus[] {
  const traffic = node.transport.peerCounters();
  return node.transport.connectedNodes().map((peer) => ({
    node: peer,
    rttMs: node.transport.rtt(peer) ?? node.identity.node(peer)?.rtt?.smoothedMs,
    traffic: traffic[peer],
  }));
}
