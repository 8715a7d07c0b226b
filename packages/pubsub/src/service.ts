import type { ServiceContext } from '@netmachine/core';
import type { PubSubEngineOptions } from './options.js';
import { PubSubEngine } from './pubsub-engine.js';

/** What the pubsub service needs from its node. */
export type PubSubServiceContext = Pick<ServiceContext, 'router' | 'keyPair' | 'logger' | 'peers'>;

/**
 * The pub/sub service factory: `createNode({ services: { pubsub: pubsub() } })`. The engine runs as
 * `pubsub`, becomes the router's topic delegate and follows peer connectivity by itself.
 */
export function pubsub(options: Omit<PubSubEngineOptions, 'router' | 'nodeKey' | 'logger' | 'peers'> = {}) {
  return (context: PubSubServiceContext): PubSubEngine =>
    new PubSubEngine({
      ...options,
      router: context.router,
      nodeKey: context.keyPair,
      logger: context.logger,
      peers: context.peers,
    });
}
