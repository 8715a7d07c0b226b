import type { NodeId } from '@netmachine/core';
import { discovery } from '@netmachine/discovery';
import { domains } from '@netmachine/domain';
import { tls } from '@netmachine/transport-tls';
import { afterAll, describe, expect, it } from 'vitest';
import { createNode } from '../src/node.js';

const services = () => ({
  domains: domains({ tickMs: 100, refreshMs: 300 }),
  discovery: discovery({
    tickMs: 200,
    machines: { taps: { period: 200 }, tac: { period: 200 }, routing: { timeout: 1500, period: 200 } },
  }),
});
type Node = Awaited<ReturnType<typeof createNode<ReturnType<typeof services>>>>;

describe('discovery() as a node service', () => {
  const nodes: Node[] = [];
  afterAll(async () => {
    for (const node of nodes) await node.stop();
  });

  it('a node in no domain reaches a domain it only knows the name of: lookup, then anycast', async () => {
    for (let i = 0; i < 3; i++) {
      const node = await createNode({
        config: { name: `n${i}`, listen: ['tls://127.0.0.1:0'] },
        transports: [tls()],
        services: services(),
      });
      await node.start();
      nodes.push(node);
    }
    const [owner, member, outsider] = nodes as [Node, Node, Node];
    const made = await owner.services.domains.create({ name: 'search', protocols: ['search'] });
    await member.addPeer(owner.advert, { trust: 200 });
    await member.services.domains.join(owner.services.domains.ticket(made.id));
    for (const n of [owner, member]) n.router.spawn('search', (m, ctx) => ctx.reply(m, { servedBy: n.id }));
    // The outsider knows the member only; the member knows the owner. Gossip starts over these links.
    await outsider.addPeer(member.advert, { permanent: true, trust: 200 });
    await member.addPeer(owner.advert, { permanent: true, trust: 200 });
    await expect.poll(() => outsider.services.discovery.views().view.length).toBeGreaterThan(0);

    const reply = await outsider.services.discovery.request<{ servedBy: NodeId }>(
      { domain: made.id, name: 'search' },
      'q',
      { timeoutMs: 10_000 },
    );
    expect([owner.id, member.id]).toContain(reply.body.servedBy);
    expect(outsider.services.discovery.counters().lookups.answered).toBe(1);
  }, 60_000);

  it('a lone member announces itself; a node holding its pointer answers for it, advert included', async () => {
    const pointerServices = () => ({
      domains: domains({ tickMs: 100, refreshMs: 300 }),
      discovery: discovery({
        tickMs: 200,
        machines: {
          taps: { period: 200 },
          tac: { period: 200 },
          routing: { timeout: 1500, period: 200, announcePeriod: 300, pointerTtl: 20_000 },
        },
      }),
    });
    const local: Node[] = [];
    for (let i = 0; i < 3; i++) {
      const node = await createNode({
        config: { name: `p${i}`, listen: ['tls://127.0.0.1:0'] },
        transports: [tls()],
        services: pointerServices(),
      });
      await node.start();
      local.push(node);
      nodes.push(node);
    }
    const [member, holder, outsider] = local as [Node, Node, Node];
    const made = await member.services.domains.create({ name: 'lone', protocols: ['lone'] });
    member.router.spawn('lone', (m, ctx) => ctx.reply(m, { servedBy: member.id }));
    await member.addPeer(holder.advert, { permanent: true, trust: 200 });
    await holder.addPeer(member.advert, { permanent: true, trust: 200 });
    // The outsider does not trust the holder: it takes no relayed entries from it, so it never
    // learns the member by gossip, only by the holder's pointer.
    await outsider.addPeer(holder.advert, { permanent: true });
    await expect.poll(() => outsider.services.discovery.views().view.length).toBeGreaterThan(0);

    // Until the member's first announce lands, the holder forwards the lookup to the member (3 ids on
    // the path); from then on it answers from its pointer.
    const lookup = () => outsider.services.discovery.lookup(made.id, { timeoutMs: 10_000 });
    // Each try may wait out a lookup's 10 s on a loaded machine: the poll allows several.
    await expect.poll(async () => (await lookup()).path.length, { timeout: 60_000 }).toBe(2);
    const found = await lookup();
    expect(found.members).toEqual([member.id]);
    expect(found.path).toEqual([outsider.id, holder.id]);
    const reply = await outsider.services.discovery.request<{ servedBy: NodeId }>(
      { domain: made.id, name: 'lone' },
      'q',
      { timeoutMs: 10_000 },
    );
    expect(reply.body.servedBy).toBe(member.id);
  }, 120_000);
});
