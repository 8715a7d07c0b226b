import type { NodeId } from '@netmachine/core';
import {
  type DialFailedEvent,
  emptySocketTransportStats,
  type SocketTransportStats,
} from '@netmachine/transport';

/** Counters of a TLS transport, for metrics: the shared socket-transport ones and the TCP listener's. */
export interface TlsTransportStats extends SocketTransportStats {
  /** TCP callers whose TLS handshake began. */
  handshakesStarted: number;
  /** TCP callers dropped at once because `maxPendingHandshakes` were already in progress. */
  handshakesRefusedBusy: number;
  /** Callers destroyed for not finishing the handshake within `handshakeTimeoutMs`. */
  handshakeTimeouts: number;
}

export function emptyStats(): TlsTransportStats {
  return {
    ...emptySocketTransportStats(),
    handshakesStarted: 0,
    handshakesRefusedBusy: 0,
    handshakeTimeouts: 0,
  };
}

/** What the transport reports as it happens (besides the counters). */
export type TlsTransportEvent =
  | { readonly type: 'handshake:refused-busy'; readonly remoteAddress: string }
  | { readonly type: 'handshake:timeout'; readonly remoteAddress: string }
  | { readonly type: 'handshake:failed'; readonly remoteAddress: string; readonly error?: Error | undefined }
  | { readonly type: 'peer:refused'; readonly node: NodeId; readonly remoteAddress: string }
  | DialFailedEvent;
