import { AnycastFailedError, type DomainId, identityBytes } from '@netmachine/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DOMAIN_ENGINE,
  DOMAIN_PROTOCOL,
  ForgedJoinResponseError,
  JoinRefusedError,
  leaveToWire,
  membershipRecordToWire,
} from '../src/index.js';
import { type DomainNode, startDomainNode } from './fixtures/tls-node.js';

const nodes: DomainNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop().catch(() => {})));
});

async function node(overrides = {}): Promise<DomainNode> {
  const n = await startDomainNode(overrides);
  nodes.push(n);
  return n;
}

/** Each member runs `search`, which answers with its own id. */
function serveSearch(n: DomainNode): void {
  n.router.spawn('search', (m, ctx) => ctx.reply(m, { servedBy: n.node, q: m.body }));
}

describe('a domain over TLS', () => {
  it('a joiner is admitted through the seed, views form, a non-member anycasts and fails over when a member dies', async () => {
    const [seed, member, outsider] = [await node(), await node(), await node()];
    serveSearch(seed);
    serveSearch(member);
    const { id } = await seed.domains.create({ name: 'research', protocols: ['search'] });
    const ticket = seed.domains.ticket(id);

    const record = await member.domains.join(ticket);
    expect(record.member).toBe(member.node);
    expect(record.issuer).toBe(id);
    await expect.poll(() => seed.domains.list()[0]?.activeView).toContain(member.node);
    await expect.poll(() => member.domains.list()[0]?.activeView).toContain(seed.node);
    await expect
      .poll(() => seed.domains.members(id).map((m) => m.engines.join()))
      .toEqual(['search', 'search']);

    await outsider.domains.know(ticket);
    await expect.poll(() => outsider.domains.members(id).length).toBe(2);
    const client = outsider.router.client('app');
    const servedBy = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const reply = await client.request<{ servedBy: string }>({ domain: id, name: 'search' }, i, {
        timeoutMs: 4000,
      });
      servedBy.add(reply.body.servedBy);
      expect(reply.src.name).toBe('search');
      expect(reply.body.servedBy).toBe(reply.src.node);
    }
    expect(servedBy.size).toBeGreaterThanOrEqual(1);

    // The member that served last goes away: the next requests are served by the other.
    const served = [...servedBy][servedBy.size - 1];
    const victim = served === seed.node ? seed : member;
    const survivor = victim === seed ? member : seed;
    await victim.stop();
    nodes.splice(nodes.indexOf(victim), 1);
    // The survivor is the only member left to answer: an attempt on it must not be cut off by a
    // deadline a loaded machine can miss (500 ms was), or the request fails with no member left.
    for (let i = 0; i < 5; i++) {
      const reply = await client.request<{ servedBy: string }>({ domain: id, name: 'search' }, i, {
        timeoutMs: 10_000,
        attemptTimeoutMs: 2000,
      });
      expect(reply.body.servedBy).toBe(survivor.node);
    }
    await expect.poll(() => survivor.domains.list()[0]?.activeView ?? []).not.toContain(victim.node);
  });

  it('a node in two domains shares one connection between their views; leaving one keeps it for the other', async () => {
    const [seed, member] = [await node(), await node()];
    const one = await seed.domains.create({ name: 'one' });
    const two = await seed.domains.create({ name: 'two', policy: { kind: 'secret' }, secret: 'x' });
    // The adverts are in the identity store.
    expect(seed.identity.domain(one.id)?.name).toBe('one');
    await member.domains.join(seed.domains.ticket(one.id));
    await member.domains.join(seed.domains.ticket(two.id), { secret: 'x' });
    expect(member.identity.domain(two.id)?.policy.kind).toBe('secret');
    const views = () => member.domains.list().map((d) => d.activeView);
    await expect.poll(views).toEqual([[seed.node], [seed.node]]);
    expect(member.transport.connectedNodes()).toEqual([seed.node]);
    await member.domains.leave(one.id);
    await expect.poll(() => seed.domains.list().find((d) => d.id === one.id)?.activeView).toEqual([]);
    expect(member.domains.list().map((d) => d.id)).toEqual([two.id]);
    expect(member.transport.connectedNodes()).toEqual([seed.node]);
    expect(seed.domains.list().find((d) => d.id === two.id)?.activeView).toEqual([member.node]);
  });

  it('anycast to a domain nobody serves fails with a typed error', async () => {
    const [seed, outsider] = [await node(), await node()];
    const { id } = await seed.domains.create({ name: 'empty', protocols: ['search'] });
    await outsider.domains.know(seed.domains.ticket(id));
    await expect.poll(() => outsider.domains.members(id).length).toBe(1);
    const client = outsider.router.client('app');
    await expect(
      client.request({ domain: id, name: 'search' }, 1, { timeoutMs: 1000 }),
    ).rejects.toBeInstanceOf(AnycastFailedError);
    expect(() => client.send({ domain: 'x'.repeat(52) as DomainId, name: 'search' }, 1)).toThrow(
      AnycastFailedError,
    );
  });

  it('refuses a wrong secret, a forged invite, an unlisted node; admits the right ones', async () => {
    const [seed, good, bad] = [await node(), await node(), await node()];
    const secret = await seed.domains.create({
      name: 's',
      policy: { kind: 'secret' },
      secret: 'open sesame',
    });
    const err = await bad.domains.join(seed.domains.ticket(secret.id), { secret: 'wrong' }).catch((e) => e);
    expect(err).toBeInstanceOf(JoinRefusedError);
    expect(err.reason).toBe('wrong-secret');
    expect(seed.domains.counters().refused['wrong-secret']).toBe(1);
    await good.domains.join(seed.domains.ticket(secret.id), { secret: 'open sesame' });

    const invite = await seed.domains.create({ name: 'i', policy: { kind: 'invite', admins: [] } });
    // An invite signed by some other key than the domain's or an admin's.
    const rogue = await bad.domains.create({ name: 'rogue' });
    const forged = { ...bad.domains.invite(rogue.id, { invitee: bad.node }), domain: invite.id };
    const refusal = await bad.domains
      .join(seed.domains.ticket(invite.id), { invite: forged })
      .catch((e) => e);
    expect(refusal).toBeInstanceOf(JoinRefusedError);
    expect(refusal.reason).toBe('invalid-invite');
    expect(seed.domains.counters().refused['invalid-invite']).toBe(1);
    const ok = seed.domains.invite(invite.id, { invitee: good.node });
    await good.domains.join(seed.domains.ticket(invite.id), { invite: ok });

    const allow = await seed.domains.create({ name: 'a', policy: { kind: 'allow', nodes: [good.node] } });
    await good.domains.join(seed.domains.ticket(allow.id));
    const notAllowed = await bad.domains.join(seed.domains.ticket(allow.id)).catch((e) => e);
    expect(notAllowed.reason).toBe('not-allowed');
  });

  it('refuses a forged JoinResponse, a membership claim without a record, a replayed leave; survives garbage', async () => {
    const [seed, member, liar] = [await node(), await node(), await node()];
    const real = await seed.domains.create({ name: 'real', protocols: [] });
    // The liar runs a "seed" of its own, with its own key, and answers joins to `real` with records it signs.
    const fake = await liar.domains.create({ name: 'real' });
    liar.router.engine(DOMAIN_ENGINE)?.stop();
    liar.router.spawn(DOMAIN_ENGINE, (m, ctx) => {
      const record = liar.domains.record(fake.id);
      ctx.reply(m, ['joined', membershipRecordToWire({ ...record!, member: member.node }), null, []], {
        protocol: DOMAIN_PROTOCOL,
      });
    });
    // A ticket naming the liar as seed: the advert is the real one (signed by the real key).
    const ticket = { advert: { ...seed.domains.advert(real.id)!, nodes: [liar.node] }, seeds: [liar.advert] };
    const bad = await member.domains.join(ticket).catch((e) => e);
    expect(bad.name).toBe('InvalidSignatureError'); // the advert was altered: its signature no longer holds
    expect(member.domains.counters().refused['invalid-advert']).toBe(1);

    // The real advert, but the liar answers the join: its record is not signed by the domain or a seed.
    const realAdvertWithLiarSeed = await seed.domains.create({
      name: 'real2',
      seeds: [liar.node],
    });
    const forged = await member.domains
      .join({ advert: realAdvertWithLiarSeed.advert, seeds: [liar.advert] })
      .catch((e) => e);
    // The liar is a listed seed here, but signs a record for a different domain: refused.
    expect(forged).toBeInstanceOf(ForgedJoinResponseError);
    expect(member.domains.counters().refused['forged-join-response']).toBe(1);

    // A node claiming membership (a neighbor message) without a valid record.
    await member.domains.join(seed.domains.ticket(real.id));
    const before = seed.domains.counters().refused['not-a-member'];
    await liar.identity.offerNodeAdvert(seed.advert);
    const client = liar.router.client('raw');
    const forgedRecord = membershipRecordToWire(liar.domains.record(fake.id)!);
    client.send(
      { node: seed.node, name: DOMAIN_ENGINE },
      ['neighbor', idBytes(real.id), [forgedRecord, [], 1, new Uint8Array(64)]],
      {
        protocol: DOMAIN_PROTOCOL,
      },
    );
    client.send({ node: seed.node, name: DOMAIN_ENGINE }, ['garbage'], { protocol: DOMAIN_PROTOCOL });
    await expect.poll(() => seed.domains.counters().refused['not-a-member']).toBe(before + 1);
    // An overlay Join from a node that holds no record of this domain: held, checked, dropped.
    liar.router
      .client(`hpv:${real.id}`)
      .send({ node: seed.node, name: `hpv:${real.id}` }, { type: 'join' }, { protocol: 'hyparview/1' });
    await expect.poll(() => seed.domains.counters().refused['not-a-member']).toBe(before + 2);
    expect(seed.domains.list().find((d) => d.id === real.id)?.activeView).not.toContain(liar.node);
    await expect.poll(() => seed.domains.counters().refused['bad-message']).toBeGreaterThan(0);

    // A leave replayed after the member rejoined.
    const leave = await member.domains.leave(real.id);
    await expect.poll(() => seed.domains.members(real.id).length).toBe(1);
    await member.domains.join(seed.domains.ticket(real.id));
    await expect.poll(() => seed.domains.members(real.id).length).toBe(2);
    client.send({ node: seed.node, name: DOMAIN_ENGINE }, ['leave', idBytes(real.id), leaveToWire(leave)], {
      protocol: DOMAIN_PROTOCOL,
    });
    await expect.poll(() => seed.domains.counters().refused['leave-replay']).toBe(1);
    expect(seed.domains.members(real.id).length).toBe(2);

    // Removal by the domain key reaches the member and takes it out.
    seed.domains.remove(real.id, member.node);
    await expect.poll(() => member.domains.list().find((d) => d.id === real.id)?.role).toBe('observer');
    expect(seed.domains.members(real.id).length).toBe(1);
  });
});

const idBytes = (id: DomainId): Uint8Array => identityBytes(id);
