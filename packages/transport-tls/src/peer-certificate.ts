import type { X509Certificate } from 'node:crypto';
import { HandshakeError, type NodeId, PeerKeyMismatchError } from '@netmachine/core';
import { nodeIdFromCertificate } from '@netmachine/transport';

/**
 * The node a peer's certificate speaks for. There is no CA: the certificate must carry an Ed25519 key
 * and be signed by that same key; the TLS handshake has already proved the peer holds its private key,
 * so the key itself is the peer's identity.
 */
export function peerNodeId(certificate: X509Certificate | undefined): NodeId {
  if (certificate === undefined) throw new HandshakeError('the peer presented no certificate');
  const node = nodeIdFromCertificate(certificate.raw);
  if (!certificate.verify(certificate.publicKey)) {
    throw new HandshakeError(`the certificate of ${node} is not self-signed by its key`);
  }
  return node;
}

/** Checks that the peer's certificate is `expected`'s: a typed error before any byte is exchanged. */
export function verifyExpectedPeer(certificate: X509Certificate | undefined, expected: NodeId): NodeId {
  const node = peerNodeId(certificate);
  if (node !== expected) throw new PeerKeyMismatchError(expected, node);
  return node;
}
