import type { EngineContext, NodeId } from '@netmachine/core';
import type { RunnerRouter } from '@netmachine/overlay';
import type { Router } from '@netmachine/router';

/**
 * The router as an overlay's runner sees it. The overlay may name a member whose advert (its
 * addresses) travels in an announcement beside the overlay's own messages and is not in the
 * directory yet: `ensureAdvert` stores it first (it returns a promise then, undefined when there is
 * nothing to do), so the message is not dropped as undeliverable.
 */
export function advertFirstRouter(
  router: Router,
  ensureAdvert: (node: NodeId) => Promise<unknown> | undefined,
): RunnerRouter {
  return {
    node: router.node,
    client: (name, onMessage, options) => {
      const client = router.client(name, onMessage, options);
      const send: EngineContext['send'] = (dst, body, sendOptions) => {
        const node = (dst as { node?: NodeId }).node;
        const stored = node === undefined ? undefined : ensureAdvert(node);
        if (stored === undefined) return client.send(dst, body, sendOptions);
        void stored.then(() => client.send(dst, body, sendOptions));
      };
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
