export type { BackoffOptions } from './backoff.js';
// For socket transports (TLS, QUIC, third-party ones): address URLs, the write batch, and the
// connection and transport skeletons.
export { BufferedConnection, type BufferedConnectionInit } from './buffered-connection.js';
export {
  expectPeerCertificate,
  type NodeCertificate,
  nodeIdFromCertificate,
  peerNodeIdFromCertificate,
  selfSignedCertificate,
} from './certificate.js';
export {
  type PeerTrafficCounters,
  TRANSPORT_DROP_REASONS,
  type TransportCounters,
  type TransportCountersSnapshot,
  type TransportDropReason,
} from './counters.js';
export { TransportEngine } from './engine.js';
export type { ConnectOptions, TransportEngineOptions } from './engine-options.js';
export { NoAddressError, ProtocolViolationError, SourceMismatchError } from './errors.js';
export type { TransportEvent, TransportEventOf, TransportEvents, TransportEventType } from './events.js';
export { DEFAULT_TRANSPORT_LIMITS, type TransportLimits } from './limits.js';
export {
  defaultMemoryNetwork,
  MEMORY_PROTOCOL,
  MemoryNetwork,
  MemoryTransport,
  type MemoryTransportOptions,
  memory,
} from './memory-transport.js';
export { ReplayWindow } from './replay-window.js';
export { formatAddress, type HostPort, parseAddress, unmapIPv4 } from './socket-address.js';
export {
  type DialFailedEvent,
  emptySocketTransportStats,
  type SocketListener,
  SocketTransport,
  type SocketTransportStats,
  withDefaults,
} from './socket-transport.js';
export { WriteBatch } from './write-batch.js';
