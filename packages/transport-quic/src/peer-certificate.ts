import type { NodeId } from '@netmachine/core';
import { peerNodeIdFromCertificate } from '@netmachine/transport';

/** The node a peer's certificate chain (DER, leaf first) speaks for (see `peerNodeIdFromCertificate`). */
export function nodeIdFromChain(chain: readonly Uint8Array[]): NodeId {
  return peerNodeIdFromCertificate(chain[0]);
}
