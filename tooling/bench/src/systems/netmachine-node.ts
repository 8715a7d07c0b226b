import {
  formatNodeAdvert,
  KeyPair,
  type NodeAdvert,
  type NodeId,
  parseNodeAdvert,
  signNodeAdvert,
  type TransportFactory,
} from '@netmachine/core';
import { type IdentityStore, memoryIdentityStore } from '@netmachine/identity-store';
import { PubSubEngine } from '@netmachine/pubsub';
import { Router } from '@netmachine/router';
import { TransportEngine } from '@netmachine/transport';
import { quic } from '@netmachine/transport-quic';
import { tls } from '@netmachine/transport-tls';
import type { SystemConfig } from './types.js';

/**
 * One netmachine node per worker process, wired the way the node app wires it: key, in-memory
 * identity store, Router, Transport engine with one transport, and the PubSub engine. Without a
 * transport (local dispatch) it is a Router alone.
 */
export interface BenchNode {
  readonly id: NodeId;
  readonly keyPair: KeyPair;
  readonly router: Router;
  readonly transport: TransportEngine | undefined;
  readonly identity: IdentityStore | undefined;
  readonly pubsub: PubSubEngine | undefined;
  /** The signed advert (text form), for peers to reach this node. */
  readonly advert: string | undefined;
  /** Teaches this node another node's advert, so it can dial it. */
  learn(advertText: string): Promise<NodeId>;
  stop(): Promise<void>;
}

const TRANSPORTS: Record<string, () => TransportFactory> = { tls: () => tls(), quic: () => quic() };

export async function startBenchNode(config: SystemConfig): Promise<BenchNode> {
  const keyPair = KeyPair.generate();
  const id = keyPair.id;
  const router = new Router({ node: id });
  await router.start();
  if (config.transport === undefined) {
    return {
      id,
      keyPair,
      router,
      transport: undefined,
      identity: undefined,
      pubsub: undefined,
      advert: undefined,
      learn: () => Promise.reject(new Error('a local node has no transport')),
      stop: () => router.stop(),
    };
  }
  const makeTransport = TRANSPORTS[config.transport];
  if (makeTransport === undefined) throw new Error(`unknown netmachine transport ${config.transport}`);
  const identity = await memoryIdentityStore();
  let advert: NodeAdvert | undefined;
  const transport = new TransportEngine({
    keyPair,
    directory: identity,
    transports: [makeTransport()],
    listen: [`${config.transport}://127.0.0.1:0`],
    strict: config.strict ?? false,
    localAdvert: () => advert,
  });
  router.setNodeSender(transport);
  transport.setSink(router);
  const pubsub = new PubSubEngine({ router, nodeKey: keyPair });
  await pubsub.start();
  transport.events.on('peer:connected', (event) => pubsub.onPeerConnected(event.node));
  transport.events.on('peer:disconnected', (event) => pubsub.onPeerDisconnected(event.node));
  await transport.start();
  const now = Date.now();
  advert = signNodeAdvert(keyPair, {
    addrs: transport.listenAddresses.map((url) => ({ url, weight: 100 })),
    version: now,
    created: now,
  });
  return {
    id,
    keyPair,
    router,
    transport,
    identity,
    pubsub,
    advert: formatNodeAdvert(advert),
    async learn(advertText) {
      const parsed = parseNodeAdvert(advertText);
      await identity.offerNodeAdvert(parsed);
      return parsed.id;
    },
    async stop() {
      await pubsub.stop();
      await router.stop();
      await transport.stop();
      await identity.stop();
    },
  };
}
