/**
 * After the TLS handshake each side says, in one byte, that it accepts the other's key. In TLS 1.3
 * the client finishes its handshake before the server has checked the client certificate, and the
 * server finishes before the client has pinned the server key, so "handshake done" means "accepted"
 * on neither side:
 * - the dialer sends CONFIRMED as soon as it has pinned the listener's key (no added latency);
 * - the listener sends ACCEPTED (or REFUSED) once it has checked the caller's key; ACCEPTED is held to
 *   the end of that turn of the event loop, so that when the confirmation came in the same read it
 *   leaves together with the answer to what followed it (the ConnectReply).
 * `dial` resolves on ACCEPTED; the listener hands the connection out on CONFIRMED. So a connection
 * exists on one side only if both sides accepted each other.
 */
export const ACCEPTED = 0xa5;
/** Sent instead of ACCEPTED when the listener refuses the caller's key (`acceptPeer` said no). */
export const REFUSED = 0x5a;
/** Sent by the dialer once the listener's key matched the expected one. */
export const CONFIRMED = 0xc3;
