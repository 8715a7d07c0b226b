export * from './address-order.js';
export * from './backoff.js';
export * from './certificate.js';
export * from './counters.js';
export * from './engine.js';
export * from './errors.js';
export * from './events.js';
export * from './faulty.js';
export * from './limits.js';
export * from './link-frames.js';
export * from './memory-transport.js';
export * from './node-queue.js';
// Shared by the socket transports (TLS, QUIC): address URLs and the write batch.
export { formatAddress, type HostPort, parseAddress, unmapIPv4 } from './socket-address.js';
export { WriteBatch } from './write-batch.js';
