import type { X509Certificate } from 'node:crypto';
import type { NodeId } from '@netmachine/core';
import { expectPeerCertificate, peerNodeIdFromCertificate } from '@netmachine/transport';

/** The node a peer's TLS certificate speaks for (see `peerNodeIdFromCertificate`). */
export function peerNodeId(certificate: X509Certificate | undefined): NodeId {
  return peerNodeIdFromCertificate(certificate);
}

/** Checks that the peer's certificate is `expected`'s: a typed error before any byte is exchanged. */
export function verifyExpectedPeer(certificate: X509Certificate | undefined, expected: NodeId): NodeId {
  return expectPeerCertificate(certificate, expected);
}
