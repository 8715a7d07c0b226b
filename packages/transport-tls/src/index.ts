export { peerNodeId, verifyExpectedPeer } from './peer-certificate.js';
export type { TlsTransportEvent, TlsTransportStats } from './stats.js';
export type { TlsConnection } from './tls-connection.js';
export { type TlsTransport, type TlsTransportOptions, tls } from './tls-transport.js';
