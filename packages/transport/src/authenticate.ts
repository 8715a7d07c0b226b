import {
  type EngineAddress,
  type EngineMessage,
  InvalidSignatureError,
  type NodeId,
  verifyMessage,
} from '@netmachine/core';
import type { TransportDropReason } from './counters.js';
import { SourceMismatchError } from './errors.js';

export type Authentication =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: TransportDropReason; readonly error: Error };

const OK: Authentication = { ok: true };

/**
 * Decides whether a message received from the authenticated `peer` may be delivered. The peer
 * vouches for its own messages (the transport proved its key); a message from any other node needs
 * that node's signature; strict mode wants a signature on everything.
 */
export function authenticateInbound(message: EngineMessage, peer: NodeId, strict: boolean): Authentication {
  const source = (message.src as EngineAddress).node;
  if (source !== peer) return verifyMessage(message) ? OK : authenticationFailure(message, peer);
  if (strict && !verifyMessage(message)) return authenticationFailure(message, peer);
  return OK;
}

/** The verdict on a message whose signature did not hold (checked here or on a worker thread). */
export function authenticationFailure(
  message: EngineMessage,
  peer: NodeId,
): Authentication & { readonly ok: false } {
  const source = (message.src as EngineAddress).node;
  if (source !== peer) {
    return { ok: false, reason: 'spoofed-source', error: new SourceMismatchError(peer, source) };
  }
  return { ok: false, reason: 'bad-signature', error: new InvalidSignatureError(`message from ${peer}`) };
}
