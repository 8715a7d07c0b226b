import { type KeyPair, type NodeId, parseNodeAdvert, type TransportFactory } from '@netmachine/core';
import { type DomainService, domains } from '@netmachine/domain';
import type { IdentityStore } from '@netmachine/identity-store';
import { createNode } from '@netmachine/node';
import { DomainPubSub, type PubSubEngine, pubsub } from '@netmachine/pubsub';
import type { RelayService } from '@netmachine/relay';
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
  /** With `config.tree`: the domain service and pub/sub over its broadcast trees. */
  readonly domains?: DomainService;
  readonly tree?: DomainPubSub;
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

/**
 * A node of a relayed run: it advertises only `relay://<B>` (so the other node cannot dial it),
 * keeps a permanent link to B and is ready once B serves it. Replies go back the same way.
 */
async function relayedOptions(relayAdvert: string) {
  const { relay, relayAddress } = await import('@netmachine/relay');
  const relayNode = parseNodeAdvert(relayAdvert).id;
  return {
    node: { advertise: [relayAddress(relayNode)], advertiseListen: false, peers: [{ advert: relayAdvert }] },
    services: { relay: relay({ use: [relayNode], probeIntervalMs: 0 }) },
    async registered(services: { relay?: RelayService }): Promise<void> {
      const deadline = performance.now() + 15_000;
      while (!services.relay?.registeredWith().includes(relayNode)) {
        if (performance.now() > deadline) throw new Error('the relay did not register this node in 15 s');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
}

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
  const relayed = config.relayAdvert !== undefined ? await relayedOptions(config.relayAdvert) : undefined;
  const node = await createNode({
    transports: [await makeTransport()],
    listen: [`${config.transport}://127.0.0.1:0`],
    strict: config.strict ?? false,
    ...(relayed?.node ?? {}),
    services: {
      // BENCH_PUBSUB_MAX_BATCH=1 sends every v1 event as its own message, for A/B runs.
      pubsub: pubsub(
        process.env.BENCH_PUBSUB_MAX_BATCH
          ? { maxBatch: Number.parseInt(process.env.BENCH_PUBSUB_MAX_BATCH, 10) }
          : {},
      ),
      ...(relayed?.services ?? {}),
      // Active views of 3: with 9 nodes most subscribers are several hops from the publisher.
      ...(config.tree ? { domains: domains({ overlay: { activeViewCapacity: 3 } }) } : {}),
    },
  });
  const domainService = (node.services as { domains?: DomainService }).domains;
  domainService?.attach(node.transport, () => node.currentAdvert);
  await node.start();
  if (relayed !== undefined) await relayed.registered(node.services as { relay?: RelayService });
  const tree =
    domainService === undefined
      ? undefined
      : new DomainPubSub({
          router: node.router,
          transport: node.transport,
          keyPair: node.keyPair,
          domains: domainService,
          // BENCH_TREE_MAX_BATCH=1 sends one event per signed batch (per tree message), for A/B runs.
          ...(process.env.BENCH_TREE_MAX_BATCH
            ? { maxBatch: Number.parseInt(process.env.BENCH_TREE_MAX_BATCH, 10) }
            : {}),
          ...(process.env.BENCH_TREE_MAX_BATCH_BYTES
            ? { maxBatchBytes: Number.parseInt(process.env.BENCH_TREE_MAX_BATCH_BYTES, 10) }
            : {}),
          // BENCH_TREE_LINGER_MS sets how long a busy topic's batch stays open (0: signed each turn), for A/B runs.
          ...(process.env.BENCH_TREE_LINGER_MS
            ? { lingerMs: Number.parseInt(process.env.BENCH_TREE_LINGER_MS, 10) }
            : {}),
          // BENCH_TREE_FLOW=0 turns hop-to-hop flow control off, for A/B runs.
          ...(process.env.BENCH_TREE_FLOW === '0' ? { flow: false as const } : {}),
          // BENCH_TREE_MAILBOX sets the tree engine's mailbox (batches), for A/B runs.
          ...(process.env.BENCH_TREE_MAILBOX
            ? { mailboxSize: Number.parseInt(process.env.BENCH_TREE_MAILBOX, 10) }
            : {}),
          // BENCH_TREE_GRAFT_MS sets PlumTree's graft timeout (the first; the second is half) and
          // BENCH_TREE_FETCH_FROM how many neighbours a gap fetch asks (0: all), for A/B runs.
          tree: {
            ...(process.env.BENCH_TREE_GRAFT_MS
              ? {
                  graftTimeout: Number.parseInt(process.env.BENCH_TREE_GRAFT_MS, 10),
                  graftTimeout2: Number.parseInt(process.env.BENCH_TREE_GRAFT_MS, 10) / 2,
                }
              : {}),
            // BENCH_TREE_GRAFT_MAX sets how far the graft timeout may grow when pushes run late (80: fixed).
            ...(process.env.BENCH_TREE_GRAFT_MAX
              ? { graftTimeoutMax: Number.parseInt(process.env.BENCH_TREE_GRAFT_MAX, 10) }
              : {}),
            // BENCH_TREE_WANT=0: a graft timer grafts even while the tree still delivers (the old way).
            ...(process.env.BENCH_TREE_WANT === '0' ? { wantWhileDelivering: false } : {}),
            // BENCH_TREE_RECOVERY=old: one message per Graft or Want, and fetched payloads pushed to the
            // parent too, and any duplicate pruning its link (the way before `askAlong`, `announceFetchedToParent`
            // `spareLastParent` and `regraftPrunedPusher`), for A/B runs.
            ...(process.env.BENCH_TREE_RECOVERY === 'old'
              ? {
                  askAlong: false,
                  announceFetchedToParent: false,
                  spareLastParent: false,
                  regraftPrunedPusher: false,
                }
              : {}),
            ...(process.env.BENCH_TREE_FETCH_FROM
              ? { fetchFrom: Number.parseInt(process.env.BENCH_TREE_FETCH_FROM, 10) }
              : {}),
          },
        });
  await tree?.start();
  return {
    ...(domainService ? { domains: domainService } : {}),
    ...(tree ? { tree } : {}),
    id: node.id,
    keyPair: node.keyPair,
    router: node.router,
    transport: node.transport,
    identity: node.identity,
    pubsub: node.services.pubsub,
    advert: node.advertText,
    learn: (advertText) => node.addPeer(advertText),
    stop: async () => {
      await tree?.stop();
      await node.stop();
    },
  };
}
