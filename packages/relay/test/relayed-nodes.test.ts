import type { EngineMessage, NodeId } from '@netmachine/core';
import { createNode, type NetmachineNode } from '@netmachine/node';
import { tls } from '@netmachine/transport-tls';
import { afterEach, describe, expect, it } from 'vitest';
import {
  RelayDestinationNotServedError,
  type RelayOptions,
  type RelayService,
  RelaySourceNotAllowedError,
  relay,
  relayAddress,
} from '../src/index.js';

// Real nodes over TLS on loopback. A node "behind" a relay advertises only `relay://<relay>` and
// keeps a permanent link to it, so nobody can dial it: the only way in is through the relay.

type RelayNode = NetmachineNode<{ relay: RelayService }>;
const nodes: RelayNode[] = [];

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

async function start(
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

function collect(node: RelayNode, name: string): EngineMessage[] {
  const got: EngineMessage[] = [];
  node.spawn(name, (m, ctx) => {
    got.push(m);
    if (m.replyTo === undefined && m.protocol === 'echo') ctx.reply(m, m.body);
  });
  return got;
}

describe('relayed paths between real nodes', () => {
  it('carries unicast in order and request/response through the relay, never direct', async () => {
    const b = await start({ offer: { policy: { kind: 'anyone' } } });
    const c = await start({}, { behind: [b] });
    const a = await start({}, { peers: [b, c] });
    const got = collect(c, 'sink');
    const client = a.client('asker');
    for (let i = 0; i < 20; i++) client.send({ node: c.id, name: 'sink' }, { i });
    await expect.poll(() => got.length).toBe(20);
    expect(got.map((m) => (m.body as { i: number }).i)).toEqual([...Array(20).keys()]);
    expect(got.every((m) => m.src.node === a.id)).toBe(true);

    const reply = await client.request({ node: c.id, name: 'sink' }, 'ping', { protocol: 'echo' });
    expect(reply.body).toBe('ping');
    expect(a.transport.connectedNodes()).not.toContain(c.id);
    expect(a.transport.counters().relayedOut).toBeGreaterThanOrEqual(21);
    expect(c.transport.counters().relayedIn).toBeGreaterThanOrEqual(21);
    // The reply went back the way the request came.
    expect(c.transport.counters().relayedOut).toBeGreaterThanOrEqual(1);
    expect(b.services.relay.counters().forwarded).toBeGreaterThanOrEqual(22);
    expect(a.services.relay.pathTo(c.id)).toEqual({ via: 'relay', relay: b.id });
    expect(a.services.relay.pathTo(b.id)).toEqual({ via: 'direct' });
  });

  it('a relay whose policy excludes the source refuses it with a typed error at the source', async () => {
    const outsider = await start({});
    // The relay relays for (and serves) only the members of one domain: here, the node behind it.
    let member: NodeId | undefined;
    const b = await start({
      offer: {
        policy: { kind: 'domains', domains: [outsider.id as never], isMember: (_, n) => n === member },
      },
    });
    const behind = await start({}, { behind: [b], beforeStart: (id) => (member = id) });
    await outsider.addPeer(b.advert);
    await outsider.addPeer(behind.advert);
    collect(behind, 'sink');
    const request = outsider
      .client('asker')
      .request({ node: behind.id, name: 'sink' }, 'x', { protocol: 'echo' });
    await expect(request).rejects.toBeInstanceOf(RelaySourceNotAllowedError);
    expect(b.services.relay.counters().refused['source-not-allowed']).toBe(1);
    expect(outsider.services.relay.counters().refusedBack['source-not-allowed']).toBe(1);
  });

  it('refuses a destination the relay does not serve, with a typed error', async () => {
    const b = await start({ offer: { policy: { kind: 'anyone' } } });
    const c = await start({}, { behind: [b] });
    const a = await start({}, { peers: [b, c] });
    // c stops: b no longer serves it (its link is gone), but a still has c's advert.
    await c.stop();
    await expect.poll(() => b.services.relay.counters().served).toBe(0);
    const request = a.client('asker').request({ node: c.id, name: 'sink' }, 'x', { protocol: 'echo' });
    await expect(request).rejects.toBeInstanceOf(RelayDestinationNotServedError);
    expect(b.services.relay.counters().refused['not-served']).toBe(1);
  });

  it('messages wait for a relay link and flow through the second relay when the first is gone', async () => {
    const b = await start({ offer: { policy: { kind: 'anyone' } } });
    const b2 = await start({ offer: { policy: { kind: 'anyone' } } });
    const c = await start({}, { behind: [b, b2] });
    const a = await start({}, { peers: [b, b2, c] });
    const got = collect(c, 'sink');
    const client = a.client('asker');
    client.send({ node: c.id, name: 'sink' }, { i: 0 }, { ttlMs: 10_000 });
    await expect.poll(() => got.length).toBe(1);
    await b.stop();
    await expect.poll(() => a.transport.connectedNodes().includes(b.id)).toBe(false);
    for (let i = 1; i <= 5; i++) client.send({ node: c.id, name: 'sink' }, { i }, { ttlMs: 10_000 });
    await expect.poll(() => got.length).toBe(6);
    expect(b2.services.relay.counters().forwarded).toBe(5);
    expect(a.services.relay.pathTo(c.id)).toEqual({ via: 'relay', relay: b2.id });
  });
});
