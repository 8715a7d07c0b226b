import {
  KeyPair,
  type NodeAdvert,
  type NodeId,
  signNodeAdvert,
  type TransportFactory,
} from '@netmachine/core';
import { type IdentityStore, memoryIdentityStore } from '@netmachine/identity-store';
import { Router } from '@netmachine/router';
import { type BackoffOptions, TransportEngine, type TransportLimits } from '@netmachine/transport';

/** What a test service is built from: the node's parts, wired but not yet started. */
export interface LoopbackParts {
  readonly node: NodeId;
  readonly key: KeyPair;
  readonly identity: IdentityStore;
  readonly router: Router;
  readonly transport: TransportEngine;
  /** The node's advert once the transport listens (undefined while the services are built). */
  readonly localAdvert: () => NodeAdvert | undefined;
}

/** A service a test node runs: started after the node listens, stopped before its transport. */
export interface LoopbackService {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Services by name; one left undefined is not run (a test that goes without it). */
export type LoopbackServices = Readonly<Record<string, LoopbackService | undefined>>;

export interface LoopbackNodeOptions<S extends LoopbackServices> {
  /** The one transport the node dials and listens with, e.g. `tls()`, or one a test wraps. */
  readonly transport: TransportFactory;
  /** The listen address (default `tls://127.0.0.1:0`: TLS on a free loopback port). */
  readonly listen?: string;
  /** The node's key (default: a new one). */
  readonly key?: KeyPair;
  readonly limits?: Partial<TransportLimits>;
  /** Reconnection backoff (default 20 ms to 200 ms, so a test's links come back quickly). */
  readonly backoff?: BackoffOptions;
  /**
   * The advert's version (default 1). A node restarted with the same key on a new port must give a
   * higher one (e.g. `Date.now()`) for its new advert to replace the old.
   */
  readonly advertVersion?: number;
  /**
   * Builds the services from the parts, before the transport starts. They start in this order once
   * the node listens and its advert is stored, and stop in reverse before the transport.
   */
  readonly services?: (parts: LoopbackParts) => S;
}

/** A node started by `startLoopbackNode`: its parts, its services by name, and one `stop`. */
export interface LoopbackNode<S extends LoopbackServices> extends LoopbackParts {
  readonly advert: NodeAdvert;
  readonly services: S;
  /** Stops the services (in reverse), then the transport, the router and the identity store. */
  stop(): Promise<void>;
}

/** Domain-service timings for tests: membership and overlays settle in a fraction of a second. */
export const FAST_DOMAIN_TIMINGS = {
  tickMs: 100,
  refreshMs: 300,
  overlay: { repairInterval: 500, neighborTimeout: 2000, joinTimeout: 2000 },
  requestTimeoutMs: 2000,
} as const;

/**
 * A node wired by hand as the app wires it, for tests that need a service's own options or its
 * place in the start order: in-memory identity store, router, Transport engine listening on
 * loopback, a signed advert the node's own store holds, and the services a test gives it.
 * `createNode` is the assembly for tests that take services as factories.
 */
export async function startLoopbackNode<S extends LoopbackServices>(
  options: LoopbackNodeOptions<S>,
): Promise<LoopbackNode<S>> {
  const key = options.key ?? KeyPair.generate();
  const node = key.id;
  const identity = await memoryIdentityStore();
  const router = new Router({ node });
  let advert: NodeAdvert | undefined;
  const transport = new TransportEngine({
    keyPair: key,
    directory: identity,
    transports: [options.transport],
    listen: [options.listen ?? 'tls://127.0.0.1:0'],
    localAdvert: () => advert,
    backoff: options.backoff ?? { initialMs: 20, maxMs: 200 },
    ...(options.limits ? { limits: options.limits } : {}),
  });
  transport.setSink(router);
  router.setNodeSender(transport);
  const parts: LoopbackParts = { node, key, identity, router, transport, localAdvert: () => advert };
  const services = options.services?.(parts) ?? ({} as S);
  const running = Object.values(services).filter((s): s is LoopbackService => s !== undefined);
  const stop = async (): Promise<void> => {
    for (const service of [...running].reverse()) await service.stop();
    await transport.stop();
    await router.stop();
    await identity.stop();
  };
  try {
    await transport.start();
    const signed = signNodeAdvert(key, {
      addrs: transport.listenAddresses.map((url) => ({ url, weight: 10 })),
      version: options.advertVersion ?? 1,
      created: Date.now(),
    });
    advert = signed;
    await identity.offerNodeAdvert(signed);
    for (const service of running) await service.start();
    return { ...parts, advert: signed, services, stop };
  } catch (error) {
    // A node that did not come up releases its port and timers, so a failed test leaks nothing.
    await stop().catch(() => {});
    throw error;
  }
}
