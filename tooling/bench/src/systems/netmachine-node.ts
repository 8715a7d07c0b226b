import type { KeyPair, NodeId, TransportFactory } from '@netmachine/core';
import type { IdentityStore } from '@netmachine/identity-store';
import { createNode } from '@netmachine/node';
import { type PubSubEngine, pubsub } from '@netmachine/pubsub';
import type { Router } from '@netmachine/router';
import type { TransportEngine } from '@netmachine/transport';
import type { SystemConfig } from './types.js';

/**
 * One netmachine node per worker process, built by the node assembly (`createNode` of
 * @netmachine/node) with one transport and the pub/sub service. Without a transport (local
 * dispatch) it is a node that neither listens nor runs services.
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

/** Only the transport asked for is loaded: a TLS node never maps the QUIC native module. */
const TRANSPORTS: Record<string, () => Promise<TransportFactory>> = {
  tls: async () => (await import('@netmachine/transport-tls')).tls(),
  quic: async () => (await import('@netmachine/transport-quic')).quic(),
};

export async function startBenchNode(config: SystemConfig): Promise<BenchNode> {
  if (config.transport === undefined) {
    const node = await createNode({ transports: [] });
    await node.start();
    return {
      id: node.id,
      keyPair: node.keyPair,
      router: node.router,
      transport: undefined,
      identity: undefined,
      pubsub: undefined,
      advert: undefined,
      learn: () => Promise.reject(new Error('a local node has no transport')),
      stop: () => node.stop(),
    };
  }
  const makeTransport = TRANSPORTS[config.transport];
  if (makeTransport === undefined) throw new Error(`unknown netmachine transport ${config.transport}`);
  const node = await createNode({
    transports: [await makeTransport()],
    listen: [`${config.transport}://127.0.0.1:0`],
    strict: config.strict ?? false,
    services: { pubsub: pubsub() },
  });
  await node.start();
  return {
    id: node.id,
    keyPair: node.keyPair,
    router: node.router,
    transport: node.transport,
    identity: node.identity,
    pubsub: node.services.pubsub,
    advert: node.advertText,
    learn: (advertText) => node.addPeer(advertText),
    stop: () => node.stop(),
  };
}
