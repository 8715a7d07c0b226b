import type { KeyPair, NodeAdvert, NodeId, TransportFactory } from '@netmachine/core';
import type { IdentityStore } from '@netmachine/identity-store';
import { createNode } from '@netmachine/node';
import { type PubSubEngine, type PubSubEngineOptions, pubsub } from '@netmachine/pubsub';
import type { Router } from '@netmachine/router';
import type { TransportEngine, TransportLimits } from '@netmachine/transport';
import { tls } from '@netmachine/transport-tls';

/**
 * A node over real TLS with the pub/sub service, for options the config file does not expose (the
 * pub/sub engine's `verifyEventSignatures`, say): built by the one assembly, `createNode`.
 */
export interface WiredNode {
  readonly id: NodeId;
  readonly key: KeyPair;
  readonly router: Router;
  readonly transport: TransportEngine;
  readonly pubsub: PubSubEngine;
  readonly identity: IdentityStore;
  readonly advert: NodeAdvert;
  stop(): Promise<void>;
}

export async function wiredNode(
  pubsubOptions: Parameters<typeof pubsub>[0] = {},
  options: {
    strict?: boolean;
    transports?: TransportFactory[];
    listen?: string[];
    limits?: Partial<TransportLimits>;
    requestTimeoutMs?: number;
  } = {},
): Promise<WiredNode> {
  const node = await createNode({
    transports: options.transports ?? [tls()],
    listen: options.listen ?? ['tls://127.0.0.1:0'],
    strict: options.strict ?? false,
    ...(options.limits ? { transportLimits: options.limits } : {}),
    ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    services: { pubsub: pubsub(pubsubOptions) },
  });
  await node.start();
  return {
    id: node.id,
    key: node.keyPair,
    router: node.router,
    transport: node.transport,
    pubsub: node.services.pubsub,
    identity: node.identity,
    advert: node.advert,
    stop: () => node.stop(),
  };
}

export type { PubSubEngineOptions };

/** Makes `a` and `b` know each other and opens a permanent link from `a`. */
export async function link(a: WiredNode, b: WiredNode): Promise<void> {
  await a.identity.offerNodeAdvert(b.advert);
  await b.identity.offerNodeAdvert(a.advert);
  await a.transport.connect(b.id, { permanent: true });
}
