import {
  KeyPair,
  type NodeAdvert,
  type NodeDirectory,
  type NodeId,
  type NodeRecordView,
  signNodeAdvert,
  TRUST_DEFAULT,
} from '@netmachine/core';
import { Router } from '@netmachine/router';
import { MemoryNetwork, memory, TransportEngine } from '@netmachine/transport';
import { afterEach, describe, expect, it } from 'vitest';
import { type HyParView, hyparview, ProtocolRunner } from '../src/index.js';

// HyParView on real nodes: Router + Transport engine over the in-memory transport (the real handshake and
// framing, no sockets), one runner per node.

class Directory implements NodeDirectory {
  readonly records = new Map<NodeId, NodeRecordView>();
  node(id: NodeId): NodeRecordView | undefined {
    return this.records.get(id);
  }
  async offerNodeAdvert(advert: NodeAdvert): Promise<boolean> {
    this.records.set(advert.id, { id: advert.id, advert, trust: TRUST_DEFAULT });
    return true;
  }
}

interface RealNode {
  readonly id: NodeId;
  readonly advert: NodeAdvert;
  readonly directory: Directory;
  readonly router: Router;
  readonly transport: TransportEngine;
  readonly runner: ProtocolRunner<unknown, unknown, unknown, unknown>;
  stopped: boolean;
}

const protocol = hyparview({
  activeViewCapacity: 3,
  passiveViewCapacity: 6,
  shuffleInterval: 300,
  repairInterval: 100,
  neighborTimeout: 1_000,
  joinTimeout: 500,
});

const running: RealNode[] = [];

async function startNode(network: MemoryNetwork, index: number): Promise<RealNode> {
  const key = KeyPair.generate();
  const id = key.id;
  const address = `memory://overlay-${process.pid}-${index}-${Date.now()}`;
  const advert = signNodeAdvert(key, {
    addrs: [{ url: address, weight: 10 }],
    version: 1,
    created: Date.now(),
  });
  const directory = new Directory();
  await directory.offerNodeAdvert(advert);
  const router = new Router({ node: id });
  const transport = new TransportEngine({
    keyPair: key,
    directory,
    transports: [memory({ network })],
    listen: [address],
    localAdvert: () => advert,
  });
  router.setNodeSender(transport);
  transport.setSink(router);
  const runner = new ProtocolRunner({
    protocol,
    router,
    transport,
    seed: index + 1,
  }) as unknown as RealNode['runner'];
  await router.start();
  await transport.start();
  await runner.start();
  const node = { id, advert, directory, router, transport, runner, stopped: false };
  running.push(node);
  return node;
}

async function stopNode(node: RealNode): Promise<void> {
  if (node.stopped) return;
  node.stopped = true;
  await node.runner.stop();
  await node.router.stop();
  await node.transport.stop();
}

function view(node: RealNode): string[] {
  return (node.runner.machine as HyParView).activeView();
}

/** True when the union of the live nodes' active views is one connected graph over them. */
function connected(nodes: readonly RealNode[]): boolean {
  const live = nodes.filter((n) => !n.stopped);
  const ids = new Set(live.map((n) => n.id as string));
  const edges = new Map<string, Set<string>>();
  for (const n of live) edges.set(n.id, new Set());
  for (const n of live) {
    for (const peer of view(n)) {
      if (!ids.has(peer)) continue;
      edges.get(n.id)?.add(peer);
      edges.get(peer)?.add(n.id);
    }
  }
  const first = live[0];
  if (first === undefined) return true;
  const seen = new Set<string>([first.id]);
  const stack = [first.id as string];
  while (stack.length > 0) {
    const next = stack.pop() as string;
    for (const peer of edges.get(next) ?? []) {
      if (!seen.has(peer)) {
        seen.add(peer);
        stack.push(peer);
      }
    }
  }
  return seen.size === live.length;
}

afterEach(async () => {
  for (const node of running.splice(0)) await stopNode(node);
});

describe('HyParView on real nodes (memory transport)', () => {
  it('forms a connected overlay through one contact and repairs it after a node stops', async () => {
    const network = new MemoryNetwork();
    const nodes: RealNode[] = [];
    for (let i = 0; i < 6; i++) nodes.push(await startNode(network, i));
    // Every node knows every advert (as after peer exchange); the overlay decides who connects.
    for (const a of nodes) for (const b of nodes) await a.directory.offerNodeAdvert(b.advert);
    const [contact, ...rest] = nodes as [RealNode, ...RealNode[]];
    for (const node of rest) node.runner.command({ type: 'join', contact: contact.id });

    await expect.poll(() => connected(nodes) && nodes.every((n) => view(n).length > 0)).toBe(true);
    for (const node of nodes) expect(view(node).length).toBeLessThanOrEqual(3);

    // Stop the node that everyone joined through, and the one with the most neighbours besides.
    const victim = contact;
    await stopNode(victim);
    await expect
      .poll(
        () =>
          connected(nodes) &&
          nodes.filter((n) => !n.stopped).every((n) => view(n).length > 0 && !view(n).includes(victim.id)),
      )
      .toBe(true);
    const decodeErrors = nodes.reduce((sum, n) => sum + n.runner.counters().decodeErrors, 0);
    expect(decodeErrors).toBe(0);
    expect(nodes.reduce((sum, n) => sum + n.runner.counters().received, 0)).toBeGreaterThan(0);
  });

  it('counts and drops messages that do not decode or come from another engine, and keeps working', async () => {
    const network = new MemoryNetwork();
    const a = await startNode(network, 10);
    const b = await startNode(network, 11);
    const c = await startNode(network, 12);
    for (const x of [a, b, c]) for (const y of [a, b, c]) await x.directory.offerNodeAdvert(y.advert);
    // From another engine on a: not the protocol's engine, so not the protocol's message.
    a.router
      .client('impostor')
      .send({ node: b.id, name: 'hyparview' }, { type: 'join' }, { protocol: 'hyparview/1' });
    await expect.poll(() => b.runner.counters().foreign).toBe(1);
    // From c's protocol engine but malformed: rejected by the decoder, counted, never handed to the machine.
    await c.runner.stop();
    const forger = c.router.client('hyparview');
    forger.send(
      { node: b.id, name: 'hyparview' },
      { type: 'shuffle', origin: c.id, ttl: 99, peers: [] },
      { protocol: 'hyparview/1' },
    );
    forger.send({ node: b.id, name: 'hyparview' }, 'garbage', { protocol: 'hyparview/1' });
    await expect.poll(() => b.runner.counters().decodeErrors).toBe(2);
    expect(b.runner.counters().received).toBe(0);
    b.runner.command({ type: 'join', contact: a.id });
    await expect.poll(() => view(a).includes(b.id) && view(b).includes(a.id)).toBe(true);
  });
});
