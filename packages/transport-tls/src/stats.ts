import type { NodeId } from '@netmachine/core';

/** Counters of a TLS transport, for metrics. Monotonic except `openConnections`. */
export interface TlsTransportStats {
  /** TCP callers whose TLS handshake began. */
  handshakesStarted: number;
  /** TCP callers dropped at once because `maxPendingHandshakes` were already in progress. */
  handshakesRefusedBusy: number;
  /** Callers destroyed for not finishing the handshake within `handshakeTimeoutMs`. */
  handshakeTimeouts: number;
  /** Handshakes that broke (not TLS, no/bad certificate, reset). */
  handshakeFailures: number;
  /** Authenticated callers refused by `acceptPeer`. */
  peersRefused: number;
  inboundAccepted: number;
  outboundEstablished: number;
  /** Dials that failed (any reason, including a key mismatch). */
  dialFailures: number;
  openConnections: number;
}

export function emptyStats(): TlsTransportStats {
  return {
    handshakesStarted: 0,
    handshakesRefusedBusy: 0,
    handshakeTimeouts: 0,
    handshakeFailures: 0,
    peersRefused: 0,
    inboundAccepted: 0,
    outboundEstablished: 0,
    dialFailures: 0,
    openConnections: 0,
  };
}

/** What the transport reports as it happens (besides the counters). */
export type TlsTransportEvent =
  | { readonly type: 'handshake-refused-busy'; readonly remoteAddress: string }
  | { readonly type: 'handshake-timeout'; readonly remoteAddress: string }
  | { readonly type: 'handshake-failed'; readonly remoteAddress: string; readonly error?: Error | undefined }
  | { readonly type: 'peer-refused'; readonly node: NodeId; readonly remoteAddress: string }
  | { readonly type: 'dial-failed'; readonly address: string; readonly error: Error };
