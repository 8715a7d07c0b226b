import type { ServiceContext } from '@netmachine/core';
import { NatsBridge } from './bridge.js';
import type { NatsBridgeOptions } from './bridge-options.js';

/** What the NATS service needs from its node. */
export type NatsServiceContext = Pick<ServiceContext, 'router' | 'keyPair' | 'logger'>;

export type NatsServiceOptions = Omit<NatsBridgeOptions, 'router' | 'keyPair' | 'logger'>;

/**
 * The NATS service factory: `createNode({ services: { nats: nats({ servers: ['nats://…'] }) } })`.
 * Engines in other processes attach through the servers under the names and keys in `trustedKeys`.
 */
export function nats(options: NatsServiceOptions) {
  return (context: NatsServiceContext): NatsBridge =>
    new NatsBridge({ ...options, router: context.router, keyPair: context.keyPair, logger: context.logger });
}
