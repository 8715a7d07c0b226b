/** Why the Transport engine dropped a message or a frame. Each reason has its own counter. */
export type TransportDropReason =
  | 'expired'
  | 'queue-full'
  | 'no-address'
  | 'denied'
  | 'stopped'
  | 'not-encodable'
  | 'spoofed-source'
  | 'bad-signature'
  | 'malformed-frame'
  | 'protocol-violation'
  | 'no-sink'
  | 'bad-advert'
  | 'relay-refused'
  | 'handshake-failed';

export const TRANSPORT_DROP_REASONS: readonly TransportDropReason[] = [
  'expired',
  'queue-full',
  'no-address',
  'denied',
  'stopped',
  'not-encodable',
  'spoofed-source',
  'bad-signature',
  'malformed-frame',
  'protocol-violation',
  'no-sink',
  'bad-advert',
  'relay-refused',
  'handshake-failed',
];

/** Counters of the Transport engine, read by the metrics endpoint. Plain numbers on the hot path. */
export interface TransportCounters {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Calls to Connection.write: frames per write shows how well coalescing works. */
  writes: number;
  /** Writes that returned false (the connection pushed back). */
  backpressured: number;
  /** Times reading from a peer was paused because the receiving engine was full (flow control). */
  readPauses: number;
  /** Frames whose message id this connection had already delivered (a duplicated write). */
  duplicatesDropped: number;
  messagesIn: number;
  messagesOut: number;
  connectsOk: number;
  connectFailures: number;
  handshakeFailures: number;
  inboundRefused: number;
  disconnects: number;
  duplicateConnections: number;
  advertsSent: number;
  advertsReceived: number;
  /** Messages handed to the relay path (no direct connection to their node). */
  relayedOut: number;
  /** Messages that arrived through a relay (opened and authenticated by the relay service). */
  relayedIn: number;
  dropped: Record<TransportDropReason, number>;
}

/** A counters snapshot, with the queue depths at the time it was taken. */
export interface TransportCountersSnapshot extends TransportCounters {
  connections: number;
  queuedTotal: number;
  /** Messages waiting per node (only nodes with a non-empty queue). */
  queueDepths: Record<string, number>;
}

/** Traffic on one live connection to a peer, counted since that connection opened. */
export interface PeerTrafficCounters {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
}

export function newPeerTrafficCounters(): PeerTrafficCounters {
  return { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 };
}

export function newTransportCounters(): TransportCounters {
  const dropped = {} as Record<TransportDropReason, number>;
  for (const reason of TRANSPORT_DROP_REASONS) dropped[reason] = 0;
  return {
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    writes: 0,
    backpressured: 0,
    readPauses: 0,
    duplicatesDropped: 0,
    messagesIn: 0,
    messagesOut: 0,
    connectsOk: 0,
    connectFailures: 0,
    handshakeFailures: 0,
    inboundRefused: 0,
    disconnects: 0,
    duplicateConnections: 0,
    advertsSent: 0,
    advertsReceived: 0,
    relayedOut: 0,
    relayedIn: 0,
    dropped,
  };
}
