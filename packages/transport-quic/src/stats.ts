import type { NodeId } from '@netmachine/core';

/** Counters of a QUIC transport, for metrics. Monotonic except `openConnections`. */
export interface QuicTransportStats {
  /** Callers whose certificate is unusable (not Ed25519, not self-signed). */
  handshakeFailures: number;
  /** Authenticated callers refused by `acceptPeer` (or by a closed listener). */
  peersRefused: number;
  inboundAccepted: number;
  outboundEstablished: number;
  dialFailures: number;
  openConnections: number;
  /** Stream writes made, and the bytes they carried: bytes per write shows how well writes are joined. */
  streamWrites: number;
  streamWriteBytes: number;
}

export function emptyStats(): QuicTransportStats {
  return {
    handshakeFailures: 0,
    peersRefused: 0,
    inboundAccepted: 0,
    outboundEstablished: 0,
    dialFailures: 0,
    openConnections: 0,
    streamWrites: 0,
    streamWriteBytes: 0,
  };
}

/** What the transport reports as it happens (besides the counters). */
export type QuicTransportEvent =
  | { readonly type: 'handshake-failed'; readonly error: Error }
  | { readonly type: 'peer-refused'; readonly node: NodeId }
  | { readonly type: 'dial-failed'; readonly address: string; readonly error: Error };
