import { type EngineMessage, type KeyPair, signMessage } from '@netmachine/core';
import { SourceMismatchError } from './errors.js';
import type { FrameSlab } from './wire/frame-slab.js';

/**
 * Appends `message` to `slab` as the frame a link from `keyPair`'s node sends: signed first in strict
 * mode. A link carries only this node's messages (another node's goes sealed through a relay).
 * Throws a typed error, and appends nothing, when it cannot be sent (another node's message, a frame
 * over `maxFrameSize`, a field that cannot be encoded).
 */
export function appendOutgoing(
  slab: FrameSlab,
  message: EngineMessage,
  keyPair: KeyPair,
  strict: boolean,
  maxFrameSize: number,
): void {
  const local = keyPair.id;
  let outgoing = message;
  if (strict && message.sig === undefined && message.src.node === local) {
    outgoing = signMessage(keyPair, message);
  }
  if (outgoing.src.node !== local) throw new SourceMismatchError(local, outgoing.src.node);
  // Encoded straight into the slab.
  slab.appendMessage(outgoing, maxFrameSize);
}
