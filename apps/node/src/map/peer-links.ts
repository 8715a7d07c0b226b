import type { EventSource, NodeId, PeerEvent } from '@netmachine/core';

/** How a live link to a peer was made, as the map shows it. */
export interface PeerLink {
  readonly direction: 'inbound' | 'outbound';
  /** The transport's scheme, e.g. `tls` or `quic`. */
  readonly transport: string;
}

/**
 * Remembers each live link's direction and transport from the node's peer events (the status has only
 * the peer ids). Create it before the node starts so the first links are seen; `close()` unsubscribes.
 * Holds one entry per connected peer, removed when the peer disconnects.
 */
export class PeerLinks {
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly offs: Array<() => void>;

  constructor(events: EventSource<PeerEvent>) {
    this.offs = [
      events.on('peer:connected', (e) =>
        this.links.set(e.node, { direction: e.direction, transport: e.protocol }),
      ),
      events.on('peer:disconnected', (e) => this.links.delete(e.node)),
    ];
  }

  get(node: NodeId): PeerLink | undefined {
    return this.links.get(node);
  }

  close(): void {
    for (const off of this.offs) off();
    this.links.clear();
  }
}
