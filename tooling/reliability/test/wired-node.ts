import { KeyPair, type NodeAdvert, type NodeId, type TransportFactory } from '@netmachine/core';
import { type IdentityStore, memoryIdentityStore } from '@netmachine/identity-store';
import { PubSubEngine, type PubSubEngineOptions, wirePeerEvents } from '@netmachine/pubsub';
import { Router } from '@netmachine/router';
import { TransportEngine, type TransportLimits } from '@netmachine/transport';
import { tls } from '@netmachine/transport-tls';
import { signOwnAdvert } from 'netmachine';

/**
 * A node assembled from its parts over real TLS, for options `createNode` does not expose (the
 * pub/sub engine's `verifyEventSignatures`, say).
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
  pubsubOptions: Omit<PubSubEngineOptions, 'router' | 'nodeKey'> = {},
  options: {
    strict?: boolean;
    transports?: TransportFactory[];
    listen?: string[];
    limits?: Partial<TransportLimits>;
    requestTimeoutMs?: number;
  } = {},
): Promise<WiredNode> {
  const key = KeyPair.generate();
  const id = key.id;
  const identity = await memoryIdentityStore();
  const router = new Router({
    node: id,
    ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
  });
  let advert: NodeAdvert | undefined;
  const transport = new TransportEngine({
    keyPair: key,
    directory: identity,
    transports: options.transports ?? [tls()],
    listen: options.listen ?? ['tls://127.0.0.1:0'],
    ...(options.limits ? { limits: options.limits } : {}),
    strict: options.strict ?? false,
    localAdvert: () => advert,
  });
  router.setNodeSender(transport);
  transport.setSink(router);
  const pubsub = new PubSubEngine({ router, nodeKey: key, ...pubsubOptions });
  await identity.start();
  await router.start();
  await pubsub.start();
  const unwire = wirePeerEvents(pubsub, transport.events);
  await transport.start();
  advert = signOwnAdvert(key, transport.listenAddresses);
  const signed = advert;
  return {
    id,
    key,
    router,
    transport,
    pubsub,
    identity,
    advert: signed,
    async stop() {
      unwire();
      await pubsub.stop();
      await router.stop();
      await transport.stop();
      await identity.stop();
    },
  };
}

/** Makes `a` and `b` know each other and opens a permanent link from `a`. */
export async function link(a: WiredNode, b: WiredNode): Promise<void> {
  await a.identity.offerNodeAdvert(b.advert);
  await b.identity.offerNodeAdvert(a.advert);
  await a.transport.connect(b.id, { permanent: true });
}
