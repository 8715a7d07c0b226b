import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { type DomainId, type EngineAddress, KeyPair, type NodeId, type TopicId } from '@netmachine/core';
import { decodeDomainTopicAdvert, encodeDomainTopicAdvert } from '@netmachine/pubsub';
import { sharedFramePool, sharedSlabPool } from '@netmachine/transport/wire';
import { setProbe } from '../process/probe.js';
import { type BenchNode, startBenchNode } from './netmachine-node.js';
import { traceTree } from './tree-trace.js';
import type { Endpoint, Link, SystemFactory } from './types.js';

/**
 * netmachine as a benchmarked system: engines on a Router, talking to engines on other nodes through
 * the Transport engine (TLS or QUIC), or to subscribers through the PubSub engine.
 *
 * An engine's `send` is fire-and-forget, and full queues drop (and count) rather than block. A sender
 * that must not lose messages therefore watches the queue it fills — the receiving mailbox (local),
 * the Transport engine's per-node queues (remote), the subscriber backlogs (pub/sub) — and pauses
 * above a high-water mark until it falls below a low one.
 */

interface TargetInfo {
  readonly advert?: string;
  readonly node?: NodeId;
  readonly engine?: string;
}

/** Sends between two looks at the backlog. */
const CHECK_EVERY = 64;

function pacer(backlog: () => number, high: number, low: number) {
  let sends = 0;
  return {
    afterSend(): boolean {
      return ++sends % CHECK_EVERY !== 0 || backlog() < high;
    },
    async drained(): Promise<void> {
      // Polling on the event loop: the queue shrinks on socket drains and mailbox runs, both of which
      // need the loop, and neither offers a "below the mark" notification to wait on.
      while (backlog() > low) await yieldToLoop();
    },
  };
}

function topicKeyOf(shared: unknown): KeyPair {
  const seed = (shared as { topicSeed?: string } | undefined)?.topicSeed;
  if (seed === undefined) throw new Error('the fan-out scenario passes a topic seed');
  return KeyPair.fromSeed(Buffer.from(seed, 'hex'));
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// --- the multi-hop tree (pubsub-tree) ---------------------------------------------------------------
//
// The publisher creates a domain and a domain topic, then sends each subscriber the domain's ticket and
// the topic advert on the `bench-tree` engine; a subscriber joins, subscribes and answers. From then on
// events travel over the domain's broadcast tree, most of them through other subscribers.

const TREE_ENGINE = 'bench-tree';

interface TreeInvite {
  readonly ticket: string;
  readonly advert: Uint8Array;
}

/** "Tell me when the advert of `topic` at `version` has reached you": the tree spans the domain. */
interface TreeProbe {
  readonly topic: TopicId;
  readonly version: number;
}

/**
 * How long the publisher waits for the tree to reach every subscriber. HyParView can leave a small
 * domain split in two components for a while after the joins (until its component labels settle, a
 * few shuffle periods); a run measured then would lose every event at the nodes cut off. Below the
 * harness's 60 s for a worker to connect, so such a run fails with this message.
 */
const TREE_REACH_TIMEOUT_MS = 50_000;

/** BENCH_TREE_TRACE: traces the domain's tree machine on this node (see tree-trace.ts). */
function startTrace(node: BenchNode, domain: DomainId, label: string): () => void {
  const machine = node.tree!.tree(domain);
  if (machine === undefined) return () => undefined;
  return traceTree({
    machine,
    node: node.id,
    label,
    queuedTo: (peer) => node.transport!.queuedTo(peer),
    neighbours: () => node.domains!.list().find((entry) => entry.id === domain)?.activeView ?? [],
    holds: () => node.tree!.counters().flow.holds,
  });
}

async function treeSubscriber(node: BenchNode, onMessage: (payload: Uint8Array) => void): Promise<Endpoint> {
  const tree = node.tree!;
  let writeTrace = (): void => undefined;
  const ref = node.router.spawn(TREE_ENGINE, async (message, context) => {
    const probe = message.body as Partial<TreeProbe>;
    if (typeof probe.version === 'number' && probe.topic !== undefined) {
      // The publisher re-issued the advert through the tree: this node is reached once it has it.
      const { topic, version } = probe;
      const reached = await until(
        () => (tree.topicAdvert(topic)?.version ?? 0) >= version,
        TREE_REACH_TIMEOUT_MS,
        'the re-issued advert came down the tree',
      ).then(
        () => true,
        () => false,
      );
      context.reply(message, reached);
      return;
    }
    const invite = message.body as TreeInvite;
    await node.domains!.join(invite.ticket);
    const advert = decodeDomainTopicAdvert(invite.advert);
    await tree.addTopicAdvert(advert);
    // One call per batch; its events are walked without an object each.
    // Lent: the counter keeps nothing of a payload, so the node may read the next batches into the same memory.
    tree.subscribeBatches(advert.topic, (batch) => batch.forEach(onMessage), { lend: true });
    writeTrace = startTrace(node, advert.domain, 'receiver');
    // Ready once this node has a neighbour in the domain's overlay, as a nats subscriber is ready once
    // its SUB reached the server: otherwise the first batches reach it only through recovery.
    const joined = advert.domain;
    await until(
      () => (node.domains!.list().find((entry) => entry.id === joined)?.activeView.length ?? 0) > 0,
      30_000,
      'the subscriber has a neighbour in the domain',
    );
    context.reply(message, 'joined');
  });
  return {
    info: { advert: node.advert, node: node.id } satisfies TargetInfo,
    close: async () => {
      writeTrace();
      if (process.env.BENCH_VERBOSE) {
        const domain = node.domains!.list()[0]?.id;
        const { streams, rejected, batchesAccepted, signatureChecks, flow } = tree.counters();
        const machine = domain === undefined ? undefined : tree.tree(domain)?.counters();
        process.stderr.write(
          `${JSON.stringify({ treeSubscriber: { streams, rejected, batchesAccepted, signatureChecks, flow, machine } })}\n`,
        );
      }
      await ref.stop();
    },
  };
}

async function treePublisher(node: BenchNode, topicKey: KeyPair, targets: TargetInfo[]): Promise<Link> {
  const tree = node.tree!;
  const domains = node.domains!;
  const { id: domain } = await domains.create({ name: 'bench-tree' });
  const advert = await tree.createTopic({ topicKey, domain });
  const writeTrace = startTrace(node, domain, 'sender');
  const client = node.router.client('bench-tree-publisher');
  const invite: TreeInvite = { ticket: domains.ticket(domain), advert: encodeDomainTopicAdvert(advert) };
  for (const target of targets) {
    const id = await node.learn(target.advert!);
    await client.request({ node: id, name: TREE_ENGINE }, invite, { timeoutMs: 30_000 });
  }
  // Every member knows every other, and every member has neighbours: the tree can span the domain.
  await until(
    () =>
      domains.members(domain).length === targets.length + 1 &&
      (domains.list()[0]?.activeView.length ?? 0) > 0,
    30_000,
    'every subscriber joined the domain',
  );
  // Ready once the tree reaches every subscriber, as a nats publisher is once every SUB reached the
  // server: a re-issued advert goes down the tree, and each subscriber answers once it has it.
  const reissued = await tree.createTopic({ topicKey, domain, version: advert.version + 1 });
  const started = performance.now();
  const probe: TreeProbe = { topic: reissued.topic, version: reissued.version };
  const answers = await Promise.all(
    targets.map(async (target) =>
      client.request({ node: await node.learn(target.advert!), name: TREE_ENGINE }, probe, {
        timeoutMs: TREE_REACH_TIMEOUT_MS + 5_000, // the subscriber answers false at TREE_REACH_TIMEOUT_MS
      }),
    ),
  );
  if (answers.some((answer) => answer.body !== true))
    throw new Error(`the domain's tree did not reach every subscriber within ${TREE_REACH_TIMEOUT_MS} ms`);
  const reachMs = Math.round(performance.now() - started);
  if (process.env.BENCH_VERBOSE) process.stderr.write(`${JSON.stringify({ treeReachedAllMs: reachMs })}\n`);
  // Batches of up to 1024 events: 128 queued tree messages hold as many events as 512 of 256.
  const pace = pacer(remoteBacklog(node), 128, 32);
  let waits = 0;
  let waitedMs = 0;
  setProbe('pacer', () => ({ waits, waitedMs: Math.round(waitedMs) }));
  return {
    send(payload) {
      tree.publish(advert.topic, payload);
      return pace.afterSend();
    },
    async drained() {
      const start = performance.now();
      waits++;
      await pace.drained();
      waitedMs += performance.now() - start;
    },
    async close() {
      writeTrace();
      if (process.env.BENCH_VERBOSE)
        process.stderr.write(
          `${JSON.stringify({ tree: tree.counters(), waits, waitedMs: Math.round(waitedMs), machine: tree.tree(domain)?.counters() })}\n`,
        );
      await client.stop();
    },
  };
}

const bodyOf = (message: { readonly body: unknown }): Uint8Array => message.body as Uint8Array;

function remoteBacklog(node: BenchNode): () => number {
  return () => node.transport!.queued;
}

/**
 * What this node reports when the harness probes it (BENCH_VERBOSE): frames per socket write, and for
 * the tree the batches signed, checked, received (duplicates too) and sent, and the tree's control traffic.
 */
function probeNode(node: BenchNode): Record<string, unknown> {
  const transport = node.transport?.counters();
  const out: Record<string, unknown> = transport
    ? {
        writes: transport.writes,
        framesOut: transport.framesOut,
        framesIn: transport.framesIn,
        bytesOut: transport.bytesOut,
        queueFull: (transport.dropped as Record<string, number>)['queue-full'] ?? 0,
        // Frames that span reads: how many were read into a buffer handed back (reused) or a new one.
        framePool: (({ reused, allocated, dropped }) => ({ reused, allocated, dropped }))(
          sharedFramePool.stats(),
        ),
        // Outgoing slabs: reused, or allocated (and dropped when the pool was full).
        slabPool: (({ reused, allocated, dropped }) => ({ reused, allocated, dropped }))(
          sharedSlabPool.stats(),
        ),
      }
    : {};
  const tree = node.tree;
  const domain = node.domains?.list()[0]?.id;
  if (tree === undefined || domain === undefined) return out;
  const counters = tree.counters();
  const machine = tree.tree(domain)?.counters();
  return {
    ...out,
    published: counters.published,
    batchesSigned: counters.batchesSigned,
    batchesDelivered: counters.streams.delivered,
    signatureChecks: counters.signatureChecks,
    flowHolds: counters.flow.holds,
    ...(machine
      ? {
          received: machine.payloadsReceived,
          duplicates: machine.duplicates,
          sent: machine.gossipSent + machine.repliesSent,
          replies: machine.repliesSent,
          ihave: machine.ihaveSent,
          grafts: machine.graftsSent,
          graftsAsWants: machine.graftsAsWants,
          lateAfterWant: machine.lateAfterWant,
          prunes: machine.prunesSent,
          wants: machine.wantsSent,
        }
      : {}),
  };
}

export const netmachine: SystemFactory = async (config) => {
  const node: BenchNode = await startBenchNode(config);
  setProbe('netmachine', () => probeNode(node));
  let engines = 0;
  const nextName = (prefix: string): string => `${prefix}-${engines++}`;
  // A node learns a peer's advert once, as an application would; the connect scenario connects to
  // the same target again and again and must not time advert verification on every connect.
  const learned = new Map<string, Promise<NodeId>>();
  const learn = (advert: string): Promise<NodeId> => {
    let known = learned.get(advert);
    if (known === undefined) {
      known = node.learn(advert);
      learned.set(advert, known);
    }
    return known;
  };

  function localBacklog(engine: string): () => number {
    return () => node.router.engine(engine)?.queued ?? 0;
  }
  const remoteBacklog = (): number => node.transport!.queued;

  return {
    async listen({ onMessage, echo = false }): Promise<Endpoint> {
      const engine = nextName('bench-rx');
      const ref = node.router.spawn(engine, (message, context) => {
        onMessage(message.body as Uint8Array);
        if (echo) context.reply(message, message.body);
      });
      return {
        info: { advert: node.advert, node: node.id, engine } satisfies TargetInfo,
        close: () => ref.stop(),
      };
    },

    async connect({ target, onMessage }): Promise<Link> {
      const info = target as TargetInfo;
      const remote = node.transport !== undefined;
      if (remote) await learn(info.advert!);
      const dst: EngineAddress | string = remote ? { node: info.node!, name: info.engine! } : info.engine!;
      const client = node.router.client(
        nextName('bench-tx'),
        onMessage !== undefined ? (message) => onMessage(message.body as Uint8Array) : undefined,
      );
      const pace = remote ? pacer(remoteBacklog, 512, 0) : pacer(localBacklog(info.engine!), 512, 128);
      return {
        send(payload) {
          client.send(dst, payload);
          return pace.afterSend();
        },
        // Remote: woken when the transport's queue for the node is empty, instead of polling it
        // every turn of the event loop (which took CPU from the receiver on a shared machine);
        // BENCH_POLL=1 polls as before, for A/B runs. A relayed node's messages wait in the relay
        // link's queue, not in the node's own: whatever is still queued then is waited out by polling.
        drained:
          remote && !process.env.BENCH_POLL
            ? async () => {
                await node.transport!.whenQueueEmpty(info.node!);
                if (node.transport!.queued > 0) await pace.drained();
              }
            : pace.drained,
        // A `then` rather than an async function: one promise and one microtask fewer per request
        // (raw TLS's link makes one promise per request too).
        request: (payload) => client.request(dst, payload).then(bodyOf),
        async close() {
          await client.stop();
          // Closing the link makes the next connect (in the connect scenario) a fresh connection.
          if (remote) await node.transport!.disconnect(info.node!);
        },
      };
    },

    async subscribe({ onMessage }): Promise<Endpoint> {
      if (config.tree) return treeSubscriber(node, onMessage);
      const topic = topicKeyOf(config.shared).topicId;
      const client = node.router.client(nextName('bench-sub'), (message) =>
        onMessage(message.body as Uint8Array),
      );
      // The advert is not known yet: the subscription waits for it (the publisher offers it on connect).
      client.subscribe(topic);
      return {
        info: { advert: node.advert, node: node.id } satisfies TargetInfo,
        close: () => client.stop(),
      };
    },

    async publisher(targets): Promise<Link> {
      if (config.tree) return treePublisher(node, topicKeyOf(config.shared), targets as TargetInfo[]);
      const pubsub = node.pubsub!;
      const name = nextName('bench-pub');
      const { topic } = pubsub.createTopic({ topicKey: topicKeyOf(config.shared), publisher: name });
      const client = node.router.client(name);
      const subscribers: NodeId[] = [];
      for (const target of targets as TargetInfo[]) {
        const id = await learn(target.advert!);
        subscribers.push(id);
        await node.transport!.connect(id);
      }
      await until(
        () => pubsub.subscriberNodes(topic).length === subscribers.length,
        15_000,
        'every subscriber node subscribed',
      );
      const backlog = (): number => {
        let worst = 0;
        for (const id of subscribers) worst = Math.max(worst, pubsub.subscriberBacklog(id)?.queued ?? 0);
        return Math.max(worst, remoteBacklog());
      };
      const pace = pacer(backlog, 512, 128);
      return {
        send(payload) {
          client.publish(topic, payload);
          return pace.afterSend();
        },
        drained: pace.drained,
        close: () => client.stop(),
      };
    },

    async shutdown() {
      if (process.env.BENCH_VERBOSE) {
        const drops = (counts: Record<string, number>): Record<string, number> =>
          Object.fromEntries(Object.entries(counts).filter(([, count]) => count > 0));
        const { dropped, ...router } = node.router.counters();
        const transport = node.transport?.counters();
        process.stderr.write(
          `${JSON.stringify({ router: { ...router, dropped: drops(dropped) }, transportDropped: transport && drops(transport.dropped as Record<string, number>), cpuMs: Math.round((process.cpuUsage().user + process.cpuUsage().system) / 1000), writes: transport?.writes, bytesOut: transport?.bytesOut, framesOut: transport?.framesOut })}\n`,
        );
      }
      await node.stop();
    },
  };
};
