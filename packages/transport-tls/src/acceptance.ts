/**
 * The one byte a listener sends right after its TLS handshake. In TLS 1.3 the client finishes its
 * handshake before the server has checked the client certificate, so "connected" does not mean
 * "accepted": the dialer's connection counts only once this byte arrives.
 */
export const ACCEPTED = 0xa5;
/** Sent instead of ACCEPTED when the listener refuses the caller's key (`acceptPeer` said no). */
export const REFUSED = 0x5a;
