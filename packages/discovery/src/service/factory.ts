import type { ServiceContext } from '@netmachine/core';
import type { DiscoveryOptions } from './options.js';
import { DiscoveryService } from './service.js';

/**
 * The service factory: `services: { discovery: discovery() }`. The Transport engine, the domain service
 * and the node's advert are given after the node is built, with `service.attach({ transport, domains,
 * localAdvert })`; until then the service answers nothing and gossips with no one.
 */
export function discovery(options: DiscoveryOptions = {}): (context: ServiceContext) => DiscoveryService {
  return (context) =>
    new DiscoveryService({
      ...options,
      router: context.router,
      keyPair: context.keyPair,
      directory: context.identity,
      logger: context.logger,
    });
}
