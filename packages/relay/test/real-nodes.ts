import type { EngineMessage, NodeId } from '@netmachine/core';
import { createNode, type NetmachineNode } from '@netmachine/node';
import { tls } from '@netmachine/transport-tls';
import { expect } from 'vitest';
import { type RelayOptions, type RelayService, relay, relayAddress } from '../src/index.js';

// Real nodes over TLS on loopback. A node "behind" a relay advertises only `relay://<relay>` and
// keeps a permanent link to it, so nobody can dial it: the only way in is through the relay.

export type RelayNode = NetmachineNode<{ relay: RelayService }>;
export const nodes: RelayNode[] = [];

export async function stopAll(): Promise<void> {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
}

export async function start(
  options: RelayOptions,
  extra: { behind?: RelayNode[]; peers?: RelayNode[]; beforeStart?: (id: NodeId) => void } = {},
): Promise<RelayNode> {
  const behind = extra.behind ?? [];
  const node = await createNode({
    transports: [tls()],
    listen: behind.length > 0 ? [] : ['tls://127.0.0.1:0'],
    advertiseListen: behind.length === 0,
    advertise: behind.map((r) => relayAddress(r.id)),
    peers: [...behind, ...(extra.peers ?? [])].map((p) => ({ advert: p.advert })),
    services: { relay: relay({ ...options, use: behind.map((r) => r.id) }) },
    requestTimeoutMs: 5000,
  });
  nodes.push(node);
  extra.beforeStart?.(node.id);
  await node.start();
  if (behind.length > 0) {
    await expect.poll(() => node.services.relay.registeredWith().length).toBe(behind.length);
  }
  return node;
}

export function collect(node: RelayNode, name: string): EngineMessage[] {
  const got: EngineMessage[] = [];
  node.spawn(name, (m, ctx) => {
    got.push(m);
    if (m.replyTo === undefined && m.protocol === 'echo') ctx.reply(m, m.body);
  });
  return got;
}
