import type { NodeId } from '@netmachine/core';
import {
  type DialFailedEvent,
  emptySocketTransportStats,
  type SocketTransportStats,
} from '@netmachine/transport';

/** Counters of a QUIC transport, for metrics: the shared socket-transport ones and the stream writes. */
export interface QuicTransportStats extends SocketTransportStats {
  /** Stream writes made, and the bytes they carried: bytes per write shows how well writes are joined. */
  streamWrites: number;
  streamWriteBytes: number;
}

export function emptyStats(): QuicTransportStats {
  return { ...emptySocketTransportStats(), streamWrites: 0, streamWriteBytes: 0 };
}

/** What the transport reports as it happens (besides the counters). */
export type QuicTransportEvent =
  | { readonly type: 'handshake:failed'; readonly error: Error }
  | { readonly type: 'peer:refused'; readonly node: NodeId }
  | DialFailedEvent;
