/**
 * Acceptance bytes on the connection's one stream. A QUIC client whose certificate the server rejects
 * still completes `createQUICClient`, and the server's handshake completes before the client has
 * pinned the server key, so a finished handshake means "accepted" on neither side:
 * - the listener opens the stream and writes ACCEPTED once the caller passed its checks;
 * - the dialer answers CONFIRMED (its key pin passed during the handshake).
 * `dial` resolves on ACCEPTED; the listener hands the connection out on CONFIRMED. The dialer's first
 * frames ride with CONFIRMED, so this costs no round trip beyond the handshake.
 */
export const ACCEPTED = 0xa5;
export const CONFIRMED = 0xc3;

/** TLS alerts as QUIC crypto error codes (0x100 + alert): an unusable certificate, a refused key. */
export const CRYPTO_BAD_CERTIFICATE = 0x100 + 42;
export const CRYPTO_ACCESS_DENIED = 0x100 + 49;
