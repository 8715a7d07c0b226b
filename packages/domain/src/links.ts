import type { NodeId } from '@netmachine/core';
import type { RunnerPeerEvent } from '@netmachine/overlay';

/** The Transport engine as the domain service uses it (structural: `TransportEngine` fits). */
export interface DomainLinks {
  /** Opens (or reuses) a connection; `permanent` keeps it up. Resolves when connected. */
  connect(node: NodeId, options?: { permanent?: boolean }): Promise<void>;
  /** Makes the link ephemeral again and closes it. */
  disconnect(node: NodeId): Promise<void>;
  connectedNodes(): NodeId[];
  /** The last measured round-trip time to a connected node, in ms. */
  rtt(node: NodeId): number | undefined;
  /** Peer connection events (the overlay's runner follows them). */
  readonly events: { on(type: '*', listener: (event: RunnerPeerEvent) => void): () => void };
}
