import type { EngineContext, NodeId } from '@netmachine/core';
import type { RunnerRouter } from './node-runner.js';

/**
 * Called before each message a runner's engine sends to a node. Returns undefined to send at once, or
 * a promise to send once it resolves (e.g. while the advert naming the node's addresses is being stored,
 * so the message is not dropped as undeliverable).
 */
export type SendGate = (node: NodeId, body: unknown) => Promise<unknown> | undefined;

/**
 * The router as an overlay's runner sees it, with `gate` run before every send to a node. A message
 * held by the gate is sent when the gate's promise resolves; if the node is unreachable by then, the send's error is swallowed: overlay messages are soft state, and the machine hears of the
 * peer through `peerDown` as for any lost message.
 */
export function gatedRouter(router: RunnerRouter, gate: SendGate): RunnerRouter {
  return {
    node: router.node,
    client: (name, onMessage, options) => {
      const client = router.client(name, onMessage, options);
      const sendLater = (dst: Parameters<EngineContext['send']>[0], body: unknown, o?: unknown) => {
        try {
          client.send(dst, body, o as Parameters<EngineContext['send']>[2]);
        } catch {
          // Unreachable after all; see above.
        }
      };
      const send: EngineContext['send'] = (dst, body, sendOptions) => {
        const node = (dst as { node?: NodeId }).node;
        const held = node === undefined ? undefined : gate(node, body);
        if (held === undefined) return client.send(dst, body, sendOptions);
        held.then(
          () => sendLater(dst, body, sendOptions),
          () => {}, // the gate failed (e.g. a bad advert): the message is lost, as to an unknown node
        );
      };
      // Delegation by hand: the client keeps its state in private fields, so no prototype tricks.
      return {
        get self() {
          return client.self;
        },
        get logger() {
          return client.logger;
        },
        get address() {
          return client.address;
        },
        get queued() {
          return client.queued;
        },
        send,
        request: (dst, body, o) => client.request(dst, body, o),
        reply: (to, body, o) => client.reply(to, body, o),
        publish: (topic, body, o) => client.publish(topic, body, o),
        subscribe: (topic) => client.subscribe(topic),
        unsubscribe: (topic) => client.unsubscribe(topic),
        spawn: (n, h, o) => client.spawn(n, h, o),
        stop: () => client.stop(),
      };
    },
  };
}
