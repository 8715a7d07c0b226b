import {
  type DomainId,
  domainIdFromBytes,
  identityBytes,
  KeyPair,
  type NodeId,
  nodeAdvertToWire,
  signNodeAdvert,
} from '@netmachine/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  blipFilter,
  DEFAULT_BLIP_PARAMS,
  encodePsiMessage,
  entryIssued,
  LookupFailedError,
  NotParticipatingError,
  psiRequest,
  signEntry,
} from '../src/index.js';
import { CryptoRng } from '../src/service/crypto-rng.js';
import { introduce, startNode, type TestNode, WireLog } from './fixtures/node.js';

const running: TestNode[] = [];
afterEach(async () => {
  for (const n of running.splice(0)) await n.stop();
});

async function node(...args: Parameters<typeof startNode>): Promise<TestNode> {
  const n = await startNode(...args);
  running.push(n);
  return n;
}

const domainIds = (n: number): DomainId[] =>
  Array.from({ length: n }, () => domainIdFromBytes(identityBytes(KeyPair.generate().id)));
const sorted = (xs: readonly string[]) => [...xs].sort();

function allViews(n: TestNode): NodeId[] {
  const v = n.discovery.views();
  return [...v.view, ...v.samples, ...v.cluster.map((c) => c.node)];
}

describe('discovery on real nodes over TLS', () => {
  it('PSI yields exactly the shared domains on both sides, and only blinded points cross the wire', async () => {
    const wire = new WireLog();
    const [d0, d1, d2, d3, d4] = domainIds(5) as [DomainId, DomainId, DomainId, DomainId, DomainId];
    const a = await node({ staticDomains: [d0, d1, d2, d4], wire });
    // d4 is internal-only at b: it never takes part, although a is in it too.
    const b = await node({ staticDomains: [d1, d2, d3, d4], wire, discovery: { internalOnly: [d4] } });
    await introduce(a, b);
    await introduce(b, a);
    const responderSaw: string[][] = [];
    b.discovery.on((e) => {
      if (e.type === 'psi:done' && e.peer === a.node) responderSaw.push([...e.shared]);
    });

    const shared = await a.discovery.intersect(b.node);
    expect(sorted(shared)).toEqual(sorted([d1, d2]));
    await expect.poll(() => responderSaw.length).toBeGreaterThan(0);
    expect(sorted(responderSaw[0] ?? [])).toEqual(sorted([d1, d2]));
    expect(a.discovery.counters().psi.completed).toBeGreaterThanOrEqual(1);
    expect(b.discovery.counters().psi.finished).toBeGreaterThanOrEqual(1);

    // The log sees the frames (node ids travel in the clear inside TLS, in adverts and entries) ...
    expect(wire.bytes).toBeGreaterThan(0);
    expect(wire.contains(identityBytes(a.node)) || wire.contains(Buffer.from(a.node))).toBe(true);
    // ... and no domain id, shared or not, in text or as key bytes.
    for (const d of [d0, d1, d2, d3, d4]) {
      expect(wire.contains(Buffer.from(d))).toBe(false);
      expect(wire.contains(identityBytes(d))).toBe(false);
    }
    // The control: a domain id that is sent in a message body is seen by the same check.
    const probe = a.router.client('probe');
    b.router.spawn('probe', () => undefined);
    probe.send({ node: b.node, name: 'probe' }, { domain: d0 });
    await expect.poll(() => wire.contains(Buffer.from(d0))).toBe(true);
  });

  it('an opted-out node never appears in the others’ inter-domain views, and answers no PSI', async () => {
    const [d0, d1] = domainIds(2) as [DomainId, DomainId];
    const a = await node({ staticDomains: [d0] });
    const b = await node({ staticDomains: [d0, d1] });
    const c = await node({ staticDomains: [d0], discovery: { participate: false } });
    for (const [x, y] of [
      [a, b],
      [b, a],
      [a, c],
      [c, a],
      [b, c],
      [c, b],
    ] as const)
      await introduce(x, y);
    // c is connected to both: a connected peer is where a node looks for gossip partners.
    await c.transport.connect(a.node);
    await c.transport.connect(b.node);
    expect(await a.discovery.join([b.node, c.node])).toBe(1);
    await expect.poll(() => a.discovery.views().view.includes(b.node)).toBe(true);
    await expect.poll(() => b.discovery.views().view.includes(a.node)).toBe(true);
    // A fence: many exchanges after c was connected and offered; c's entry could have spread by now.
    const exchanged = (n: TestNode) => n.discovery.counters().machine?.exchanges ?? 0;
    const base = exchanged(a) + exchanged(b);
    await expect.poll(() => exchanged(a) + exchanged(b)).toBeGreaterThan(base + 10);
    expect(allViews(a)).not.toContain(c.node);
    expect(allViews(b)).not.toContain(c.node);
    expect(c.discovery.counters().runner).toBeUndefined();
    await expect(c.discovery.lookup(d1)).rejects.toBeInstanceOf(NotParticipatingError);
    await expect(a.discovery.intersect(c.node, { timeoutMs: 1000 })).rejects.toThrow();
  });

  it('refuses and counts forged sampling entries, oversized views, lookup loops and floods', async () => {
    const [d0] = domainIds(1) as [DomainId];
    // a answers any number of PSI requests a minute, so the session bound is what stops a flood;
    // b keeps the default per-peer rate.
    const a = await node({ staticDomains: [d0], discovery: { psiPerPeerPerMinute: 1000 } });
    const b = await node({ staticDomains: [] });
    const m = await node({ staticDomains: [], discovery: { participate: false } });
    for (const [x, y] of [
      [a, b],
      [b, a],
      [a, m],
      [m, a],
    ] as const)
      await introduce(x, y);
    await a.discovery.join([b.node]);
    await expect.poll(() => a.discovery.views().view.includes(b.node)).toBe(true);

    // The attacker speaks the protocol from its own `discovery` engine (m runs no discovery machine).
    const attacker = m.router.client('discovery');
    const send = (body: unknown) =>
      attacker.send({ node: a.node, name: 'discovery' }, body, { protocol: 'discovery/1' });
    const received = () => a.discovery.counters().runner?.received ?? 0;
    const decodeErrors = () => a.discovery.counters().runner?.decodeErrors ?? 0;
    const filter = blipFilter([], DEFAULT_BLIP_PARAMS, new CryptoRng());
    const victim = KeyPair.generate();
    // 1. An entry for another node, signed by the attacker; 2. an entry with a broken signature.
    const stolen = { peer: victim.id, filter, signature: signEntry(m.key, filter, Date.now()), age: 0 };
    const own = signEntry(victim, filter, Date.now());
    own[20] = (own[20] ?? 0) ^ 1;
    const broken = { peer: victim.id, filter, signature: own, age: 0 };
    const before = received();
    send({ type: 'shuffle', entries: [stolen] });
    send({ type: 'shuffle', entries: [broken] });
    await expect.poll(() => a.discovery.counters().forgedMessages).toBe(2);
    expect(received()).toBeGreaterThanOrEqual(before + 2);
    expect(a.discovery.counters().forgedEntries).toBe(2);
    expect(allViews(a)).not.toContain(victim.id);
    expect(allViews(a)).not.toContain(m.node);
    // What a learned about m is kept: the identity store counts the forgery against it.
    await expect.poll(() => (a.identity.node(m.node) as { reputation?: number }).reputation).toBeLessThan(0);

    // A genuine entry issued too long ago passes the signature gate but is not taken in.
    const old = Date.now() - 2 * 3_600_000;
    const stale = { peer: victim.id, filter, signature: signEntry(victim, filter, old), age: 0 };
    const tapsForged = () => a.discovery.counters().machine?.forgedEntries ?? 0;
    const staleBefore = tapsForged();
    send({ type: 'shuffle', entries: [stale] });
    await expect.poll(tapsForged).toBe(staleBefore + 1);
    expect(a.discovery.counters().forgedMessages).toBe(2);
    expect(allViews(a)).not.toContain(victim.id);

    // An oversized view: more entries than any message may carry is a decode error, not a crash.
    const good = { peer: m.node, filter, signature: signEntry(m.key, filter, Date.now()), age: 0 };
    const errorsBefore = decodeErrors();
    send({ type: 'shuffle', entries: Array.from({ length: 33 }, () => good) });
    await expect.poll(decodeErrors).toBe(errorsBefore + 1);

    // The bad input closed the link; reconnect and send lookups: a loop back through a, and a flood.
    await m.transport.connect(a.node);
    const routing = () => a.discovery.counters().machine?.routing;
    const target = blipFilter([`x`], DEFAULT_BLIP_PARAMS, new CryptoRng());
    send({ type: 'lookup', id: 'loop', domain: 'elsewhere', target, path: [m.node, a.node] });
    await expect.poll(() => routing()?.loops).toBe(1);
    const flood = 200;
    for (let i = 0; i < flood; i++) {
      send({ type: 'lookup', id: `flood-${i}`, domain: 'elsewhere', target, path: [m.node] });
    }
    await expect
      .poll(() => {
        const r = routing();
        return (r?.refused ?? 0) + (r?.forwarded ?? 0) + (r?.deadEnds ?? 0);
      })
      .toBe(flood);
    const r = routing();
    // At most a period's budget of a burst is forwarded; the rest is refused and counted.
    expect(r?.forwarded).toBeLessThanOrEqual(64 * 2);
    expect(r?.refused).toBeGreaterThan(0);

    // Advert announcements: a forged NodeAdvert is refused and counted, never stored.
    const adverts = m.router.client('discovery.adverts.client');
    const forgedAdvert = signNodeAdvert(m.key, { addrs: [], version: 9, created: Date.now() });
    const refusedBefore = a.discovery.counters().adverts.refused;
    adverts.send(
      { node: a.node, name: 'discovery.adverts' },
      { t: 'adverts', nodes: [nodeAdvertToWire({ ...forgedAdvert, id: victim.id })], domains: [] },
      { protocol: 'discovery-adverts/1' },
    );
    await expect.poll(() => a.discovery.counters().adverts.refused).toBe(refusedBefore + 1);
    expect(a.identity.node(victim.id)?.advert).toBeUndefined();

    // A PSI flood: requests beyond the responder's half-done sessions are refused, not held.
    const psi = m.router.client('psi-flood');
    const answers = await Promise.all(
      Array.from({ length: 40 }, () =>
        psi.request<{ type: string }>(
          { node: a.node, name: 'psi' },
          encodePsiMessage(psiRequest(['domain:x']).message),
          { protocol: 'psi/1', timeoutMs: 10_000 },
        ),
      ),
    );
    // At most 32 half-done sessions at once (a and b's own clustering runs may hold some).
    const held = answers.filter((x) => x.body.type === 'psiResponse').length;
    const refused = answers.filter((x) => x.body.type === 'psiRefused').length;
    expect(held + refused).toBe(40);
    expect(held).toBeLessThanOrEqual(32);
    expect(a.discovery.counters().psi.refused).toBeGreaterThanOrEqual(refused);

    // One peer asking again and again (guessing domain ids) is answered 6 times a minute.
    await introduce(m, b);
    await introduce(b, m);
    const asked = await Promise.all(
      Array.from({ length: 10 }, () =>
        psi.request<{ type: string; reason?: string }>(
          { node: b.node, name: 'psi' },
          encodePsiMessage(psiRequest(['domain:x']).message),
          { protocol: 'psi/1', timeoutMs: 10_000 },
        ),
      ),
    );
    expect(asked.filter((x) => x.body.type === 'psiResponse')).toHaveLength(6);
    expect(asked.filter((x) => x.body.reason === 'too many requests')).toHaveLength(4);
  });

  it('a node in no domain finds a member of a domain by lookup, and its anycast request is answered', async () => {
    const owner = await node();
    const member = await node();
    const relay = await node();
    const outsider = await node();
    const all = [owner, member, relay, outsider];
    for (const x of all) for (const y of all) if (x !== y) await introduce(x, y);
    const created = await owner.domains!.create({ name: 'search', protocols: ['search'] });
    await member.domains!.join(owner.domains!.ticket(created.id));
    for (const n of [owner, member]) {
      n.router.spawn('search', (msg, ctx) => ctx.reply(msg, { servedBy: n.node }));
    }
    // Gossip: the outsider knows only the relay; the relay knows everyone.
    await outsider.discovery.join([relay.node]);
    await relay.discovery.join([owner.node, member.node, outsider.node]);
    await owner.discovery.join([member.node, relay.node]);
    await expect.poll(() => outsider.discovery.views().view.length).toBeGreaterThan(0);

    const found = await outsider.discovery.lookup(created.id);
    expect(found.members.length).toBeGreaterThan(0);
    expect(found.members.every((n) => n === owner.node || n === member.node)).toBe(true);
    expect(found.path[0]).toBe(outsider.node);
    expect(found.advert?.id).toBe(created.id);
    // The identity store keeps what the lookup brought: the members' adverts.
    for (const n of found.members) expect(outsider.identity.node(n)?.advert?.id).toBe(n);

    const reply = await outsider.discovery.request<{ servedBy: NodeId }>(
      { domain: created.id, name: 'search' },
      'hello',
      { timeoutMs: 10_000 },
    );
    expect([owner.node, member.node]).toContain(reply.body.servedBy);
  });

  it('members of an internal-only domain are never found by lookup, while their other domains are', async () => {
    const [open, internal] = domainIds(2) as [DomainId, DomainId];
    const a = await node({ staticDomains: [open, internal], discovery: { internalOnly: [internal] } });
    const b = await node({ staticDomains: [internal], discovery: { internalOnly: [internal] } });
    const outsider = await node({ staticDomains: [] });
    for (const x of [a, b, outsider]) for (const y of [a, b, outsider]) if (x !== y) await introduce(x, y);
    await outsider.discovery.join([a.node, b.node]);
    await expect.poll(() => outsider.discovery.views().view.length).toBe(2);
    const found = await outsider.discovery.lookup(open);
    expect(found.members).toEqual([a.node]);
    await expect(outsider.discovery.lookup(internal, { timeoutMs: 20_000 })).rejects.toBeInstanceOf(
      LookupFailedError,
    );
  });

  it('TAC clusters nodes that share a domain, the overlap checked by PSI over the wire', async () => {
    const [d0, d1, d2] = domainIds(3) as [DomainId, DomainId, DomainId];
    const a = await node({ staticDomains: [d0, d1] });
    const b = await node({ staticDomains: [d0] });
    const c = await node({ staticDomains: [d1] });
    const e = await node({ staticDomains: [d2] });
    const all = [a, b, c, e];
    for (const x of all) for (const y of all) if (x !== y) await introduce(x, y);
    for (const x of all) await x.discovery.join(all.filter((y) => y !== x).map((y) => y.node));
    const clusterOf = (n: TestNode) =>
      Object.fromEntries(n.discovery.views().cluster.map((c) => [c.node, [...c.shared].sort()]));
    await expect.poll(() => clusterOf(a)[b.node]).toEqual([d0]);
    await expect.poll(() => clusterOf(a)[c.node]).toEqual([d1]);
    await expect.poll(() => clusterOf(b)[a.node]).toEqual([d0]);
    expect(clusterOf(a)[e.node]).toBeUndefined();
    expect(a.discovery.counters().psi.completed + a.discovery.counters().psi.finished).toBeGreaterThan(0);
  });

  it('re-signs its own entry before it grows stale', async () => {
    const a = await node({ staticDomains: [], discovery: { entryTtlMs: 1000 } });
    const b = await node({ staticDomains: [] });
    await introduce(b, a);
    const client = b.router.client('hello');
    const issued = async () => {
      const reply = await client.request<{ entry: { signature: Uint8Array } }>(
        { node: a.node, name: 'discovery.adverts' },
        { t: 'hello' },
        { protocol: 'discovery-adverts/1' },
      );
      return entryIssued(reply.body.entry.signature) ?? 0;
    };
    const first = await issued();
    await expect.poll(issued).toBeGreaterThan(first);
    expect(a.discovery.counters().restarts).toBe(0);
  });
});
