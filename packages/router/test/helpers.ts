import { type EngineMessage, KeyPair, type NodeId, type NodeSender } from '@netmachine/core';
import { Router } from '../src/index.js';

export function newRouter(options: Partial<ConstructorParameters<typeof Router>[0]> = {}): Router {
  return new Router({ node: KeyPair.generate().id, ...options });
}

/**
 * Two routers joined by a direct in-process NodeSender: what a transport does, minus the bytes.
 * Messages cross on a macrotask, as they would from a socket.
 */
export function link(a: Router, b: Router): { cut(): void } {
  let up = true;
  const sender = (to: Router): NodeSender => ({
    canReach: (node: NodeId) => up && node === to.node,
    send: (message: EngineMessage) => {
      setImmediate(() => to.deliver(message));
    },
  });
  a.setNodeSender(sender(b));
  b.setNodeSender(sender(a));
  return {
    cut() {
      up = false;
    },
  };
}
