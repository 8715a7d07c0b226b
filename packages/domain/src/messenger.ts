import { NetmachineError, type NodeId } from '@netmachine/core';
import type { EngineClient } from '@netmachine/router';
import type { DomainContext } from './context.js';
import {
  DOMAIN_ENGINE,
  DOMAIN_PROTOCOL,
  type DomainReply,
  type DomainRequest,
  decodeReply,
  encodeRequest,
} from './protocol.js';

/** Requests and notices to the domain engine of other nodes, through this node's domain client. */
export class DomainMessenger {
  /** Set while the service runs. */
  client: EngineClient | undefined;

  constructor(private readonly ctx: DomainContext) {}

  /** Asks a node's domain engine; a reply that does not decode is refused (counted) and thrown. */
  async ask(node: NodeId, request: DomainRequest, signal?: AbortSignal): Promise<DomainReply> {
    const client = this.client;
    if (client === undefined) throw new NetmachineError('ERR_NOT_STARTED', 'domain service not started');
    const reply = await client.request({ node, name: DOMAIN_ENGINE }, encodeRequest(request), {
      protocol: DOMAIN_PROTOCOL,
      timeoutMs: this.ctx.limits.requestTimeoutMs,
      ...(signal ? { signal } : {}),
    });
    try {
      return decodeReply(reply.body);
    } catch (error) {
      this.ctx.refuse('bad-message', error as Error, request.domain, node);
      throw error;
    }
  }

  /** Sends a notice; one that cannot be sent (no route) is logged and dropped. */
  sendTo(node: NodeId, request: DomainRequest): void {
    try {
      this.client?.send({ node, name: DOMAIN_ENGINE }, encodeRequest(request), { protocol: DOMAIN_PROTOCOL });
    } catch (error) {
      this.ctx.logger.debug({ err: error, node }, 'domain notice not sent');
    }
  }
}
