export { nodeIdFromChain } from './peer-certificate.js';
export type { QuicConnection } from './quic-connection.js';
export type { QuicTuning } from './quic-support.js';
export { type QuicTransport, type QuicTransportOptions, quic } from './quic-transport.js';
export type { QuicTransportEvent, QuicTransportStats } from './stats.js';
