import type { NodeId } from '@netmachine/core';
import type { DomainCounters, DomainSummary } from '@netmachine/domain';
import type { AnycastCounters, RouterCounters } from '@netmachine/router';

export interface ConnectionStatus {
  readonly node: NodeId;
  readonly rttMs?: number | undefined;
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
  /** Each domain this node is in or knows, with its active view (live peers) and passive view size. */
  readonly domains: readonly DomainSummary[];
  readonly domainCounters: DomainCounters;
  readonly anycast: Readonly<AnycastCounters>;
  readonly transport: {
    readonly bytesIn: number;
    readonly bytesOut: number;
    readonly handshakeFailures: number;
    /** Times reading from a peer was paused because an engine was full (flow control). */
    readonly readPauses: number;
    readonly duplicatesDropped: number;
    readonly dropped: Record<string, number>;
    readonly queueDepths: Record<string, number>;
  };
  readonly pubsub?: Record<string, unknown> | undefined;
  readonly storage?: Record<string, unknown> | undefined;
  readonly nats?: Record<string, unknown> | undefined;
}
