import {
  ConnectionClosedError,
  type Destination,
  type EngineAddress,
  type EngineMessage,
  parseEngineAddress,
  SchemaError,
  type SendOptions,
} from '@netmachine/core';
import type { SessionKeys } from './attach-handshake.js';
import { DEFAULT_PROTOCOL_NAME } from './delivery-queue.js';
import { errorFromWire } from './errors.js';
import { decodeDelivery, type OutKind, sealOut } from './protocol.js';
import { tagValid } from './session-keys.js';

// What an attached engine sends to its node: where a destination points, the sealed envelope, and
// the node's answer to a request.

/** The attached engine a message is from: its address and this process's instance of it. */
export interface Sender {
  readonly self: EngineAddress;
  readonly instance: string;
}

/** `name@node` is an engine on another node; a bare name is an engine on this engine's own node. */
export function destinationOf(self: EngineAddress, dst: Destination | string): Destination {
  if (typeof dst !== 'string') return dst;
  if (dst.includes('@')) return parseEngineAddress(dst);
  return { node: self.node, name: dst };
}

/** The envelope of message `id` from this process to the node, tagged under the session's keys. */
export function sealOutgoing(
  keys: SessionKeys,
  from: Sender,
  id: number,
  kind: OutKind,
  dst: Destination,
  body: unknown,
  options: SendOptions | undefined,
  replyTo: number | undefined,
  timeoutMs?: number,
): Buffer {
  let expiry = options?.expiry;
  if (expiry === undefined && options?.ttlMs !== undefined) expiry = Date.now() + options.ttlMs;
  return sealOut(keys.pair.out, {
    name: from.self.name,
    instance: from.instance,
    kind,
    id,
    dst,
    replyTo,
    expiry,
    protocol: options?.protocol ?? DEFAULT_PROTOCOL_NAME,
    body,
    timeoutMs,
  });
}

/**
 * The node's answer to request `id` of this process, as a message to the engine. Throws SchemaError when
 * the answer is not from the node, ConnectionClosedError when it answers another request, and the
 * error the node reported (the request to `where` failed there).
 */
export function openRequestResult<R>(
  data: Uint8Array,
  keys: SessionKeys,
  to: Sender,
  id: number,
  where: string,
): EngineMessage<R> {
  const { delivery: result, tagged, tag } = decodeDelivery(data);
  if (result.session !== keys.session || !tagValid(keys.pair.results, tagged, tag)) {
    throw new SchemaError('delivery.tag', 'a result not from the node');
  }
  if (result.instance !== to.instance || result.requestId !== id) {
    throw new ConnectionClosedError('a reply that answers another request');
  }
  if (result.error) throw errorFromWire(result.error[0], result.error[1], where);
  return {
    id: result.id,
    src: result.src,
    dst: to.self,
    replyTo: result.replyTo,
    expiry: result.expiry,
    protocol: result.protocol,
    body: result.body as R,
  };
}
