import {
  Emitter,
  InvalidAddressError,
  KeyPair,
  type NodeId,
  noopLogger,
  type PeerEvent,
  type Service,
  type ServiceContext,
} from '@netmachine/core';
import { type IdentityStore, memoryIdentityStore } from '@netmachine/identity-store';
import { Router } from '@netmachine/router';
import { TransportEngine } from '@netmachine/transport';
import { NetmachineNode } from './node.js';
import type { NodeOptions, ServiceFactories, ServicesOf } from './options.js';

/** The scheme of a URL (`tls` of `tls://127.0.0.1:7100`), or undefined when it is not a URL. */
export function addressScheme(address: string): string | undefined {
  const match = /^([a-z][a-z0-9+.-]*):\/\//i.exec(address);
  return match?.[1]?.toLowerCase();
}

/** Throws InvalidAddressError for a listen address no registered transport serves. */
export function checkListenSchemes(listen: readonly string[], protocols: readonly string[]): void {
  for (const address of listen) {
    const scheme = addressScheme(address);
    if (scheme === undefined || !protocols.includes(scheme)) {
      throw new InvalidAddressError(
        address,
        `no transport registered for its scheme (registered: ${protocols.join(', ') || 'none'})`,
      );
    }
  }
}

/**
 * Builds a node from the parts it is given: nothing is started until `start()`, and nothing is
 * loaded that was not given (no transport, service or database beyond the in-memory identity store).
 *
 * ```ts
 * const node = await createNode({ transports: [tls()], listen: ['tls://127.0.0.1:0'], services: { pubsub: pubsub() } });
 * ```
 */
export async function createNode<F extends ServiceFactories = Record<never, never>>(
  options: NodeOptions<F>,
): Promise<NetmachineNode<ServicesOf<F>>> {
  const logger = options.logger ?? noopLogger;
  const keyPair = options.keyPair ?? KeyPair.generate();
  const identity = options.identity ?? (await memoryIdentityStore({ logger }));
  try {
    return await assemble(options, keyPair, identity);
  } catch (error) {
    // The node owns the identity store from here: a node that cannot be built releases it.
    await identity.stop();
    throw error;
  }
}

async function assemble<F extends ServiceFactories>(
  options: NodeOptions<F>,
  keyPair: KeyPair,
  identity: IdentityStore,
): Promise<NetmachineNode<ServicesOf<F>>> {
  const logger = options.logger ?? noopLogger;
  const node = keyPair.id as NodeId;
  const router = new Router({
    node,
    logger,
    ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
  });
  let nodeRef: NetmachineNode<ServicesOf<F>> | undefined;
  const transport = new TransportEngine({
    keyPair,
    directory: identity,
    transports: options.transports,
    listen: options.listen ?? [],
    logger,
    strict: options.strict ?? false,
    ...(options.transportOrder ? { transportOrder: options.transportOrder } : {}),
    localAdvert: () => nodeRef?.currentAdvert,
    ...(options.transportLimits ? { limits: options.transportLimits } : {}),
    ...(options.backoff ? { backoff: options.backoff } : {}),
  });
  checkListenSchemes(options.listen ?? [], transport.protocols);
  router.setNodeSender(transport);
  transport.setSink(router);
  const peers = { connectedNodes: () => transport.connectedNodes(), events: new Emitter<PeerEvent>() };
  const lifetime = new AbortController();
  const services: Record<string, Service> = {};
  try {
    for (const [name, factory] of Object.entries(options.services ?? {})) {
      const context: ServiceContext = {
        node,
        keyPair,
        logger: logger.child({ service: name }),
        router,
        identity,
        peers,
        relayPath: transport,
        dataDir: options.dataDir,
        signal: lifetime.signal,
      };
      services[name] = await factory(context);
    }
  } catch (error) {
    // A service that failed to build: those built before it release what they hold.
    for (const service of Object.values(services).reverse()) await service.stop().catch(() => {});
    throw error;
  }
  nodeRef = new NetmachineNode({
    keyPair,
    router,
    transport,
    identity,
    peers,
    services: services as ServicesOf<F>,
    logger,
    name: options.name,
    initialPeers: options.peers ?? [],
    advertise: options.advertise,
    advertiseListen: options.advertiseListen,
    lifetime,
  });
  return nodeRef;
}
