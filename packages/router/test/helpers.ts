import { type EngineMessage, KeyPair, type NodeId, type NodeSender } from '@netmachine/core';
import { Router } from '../src/index.js';

export function newRouter(options: Partial<ConstructorParameters<typeof Router>[0]> = {}): Router {
  return new Router({ node: KeyPair.generate().id, ...options });
}

/** Resolves when `condition` holds; polls on macrotasks so engines get to run. */
export async function until(condition: () => boolean, what = 'condition', maxWaitMs = 10_000): Promise<void> {
  const deadline = Date.now() + maxWaitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
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
