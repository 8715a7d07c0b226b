export type { BackoffOptions } from './backoff.js';
export { type NodeCertificate, nodeIdFromCertificate, selfSignedCertificate } from './certificate.js';
export {
  TRANSPORT_DROP_REASONS,
  type TransportCounters,
  type TransportCountersSnapshot,
  type TransportDropReason,
} from './counters.js';
export { type ConnectOptions, TransportEngine, type TransportEngineOptions } from './engine.js';
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
// For socket transports (TLS, QUIC, third-party ones): address URLs and the write batch.
export { formatAddress, type HostPort, parseAddress, unmapIPv4 } from './socket-address.js';
export { WriteBatch } from './write-batch.js';
