import { X509Certificate } from 'node:crypto';
import { HandshakeError, type NodeId } from '@netmachine/core';
import { nodeIdFromCertificate } from '@netmachine/transport';

/**
 * The node a peer's certificate chain (DER, leaf first) speaks for. There is no CA: the leaf must carry
 * an Ed25519 key and be signed by that same key; the TLS handshake has proved the peer holds its private
 * key, so the key itself is the peer's identity.
 */
export function nodeIdFromChain(chain: readonly Uint8Array[]): NodeId {
  const leaf = chain[0];
  if (leaf === undefined) throw new HandshakeError('the peer presented no certificate');
  const node = nodeIdFromCertificate(leaf);
  const certificate = new X509Certificate(leaf);
  if (!certificate.verify(certificate.publicKey)) {
    throw new HandshakeError(`the certificate of ${node} is not self-signed by its key`);
  }
  return node;
}
