import { seededRng } from '@netmachine/overlay';
import { describe, expect, it } from 'vitest';
import {
  DomainRouter,
  type PeerEntry,
  type RoutingConfig,
  type RoutingEvent,
  type RoutingMessage,
  type RoutingTimer,
} from '../src/index.js';
import { entry, filterOf, forged, Recorder, verify } from './helpers.js';

// Domains map to filter bits: d1 → bit 1, d2 → bit 2, ...; similarity is the share of the target's bits
// a filter has.
const domainFilter = (domain: string) => filterOf(Number(domain.slice(1)));
const similarity = (filter: Uint8Array, target: Uint8Array) => {
  let shared = 0;
  let total = 0;
  for (let i = 0; i < target.length; i++) {
    for (let b = 0; b < 8; b++) {
      if (((target[i] as number) & (1 << b)) === 0) continue;
      total++;
      if (((filter[i] as number) & (1 << b)) !== 0) shared++;
    }
  }
  return total === 0 ? 0 : shared / total;
};

function router(self: string, domains: string[], known: PeerEntry[], config: Partial<RoutingConfig> = {}) {
  const machine = new DomainRouter(
    self,
    seededRng(2),
    {
      advert: entry(self, filterOf(...domains.map((d) => Number(d.slice(1))))),
      domains,
      verify,
      similarity,
      domainFilter,
      candidates: (visit) => {
        for (const e of known) visit(e);
      },
      membersOf: () => [],
    },
    { parallel: 1, ...config },
  );
  return { machine, out: new Recorder<RoutingMessage, RoutingTimer, RoutingEvent>() };
}

const lookup = (path: string[], id = 'q1', domain = 'd7'): RoutingMessage => ({
  type: 'lookup',
  id,
  domain,
  target: domainFilter(domain),
  path,
});

describe('domain routing', () => {
  it('forwards greedily to the known peer most similar to the domain, path recorded', () => {
    const { machine, out } = router('me', ['d1'], [entry('far', filterOf(2)), entry('near', filterOf(7, 3))]);
    machine.handle({ type: 'message', from: 'o', message: lookup(['o']) }, 0, out);
    expect(out.sent).toEqual([{ to: 'near', message: { ...lookup(['o']), path: ['o', 'me'] } }]);
  });

  it('answers the origin directly when it is a member', () => {
    const { machine, out } = router('me', ['d7'], []);
    machine.handle({ type: 'message', from: 'x', message: lookup(['o', 'x']) }, 0, out);
    expect(out.sent[0]?.to).toBe('o');
    expect(out.sent[0]?.message).toMatchObject({ type: 'lookupReply', id: 'q1', path: ['o', 'x', 'me'] });
  });

  it('drops and counts a lookup that comes back to a node on its path', () => {
    const { machine, out } = router('me', [], [entry('a', filterOf(7))]);
    machine.handle({ type: 'message', from: 'b', message: lookup(['o', 'me', 'b']) }, 0, out);
    expect(out.sent).toEqual([]);
    expect(machine.counters.loops).toBe(1);
  });

  it('never forwards to a peer already on the path', () => {
    const { machine, out } = router('me', [], [entry('o', filterOf(7)), entry('b', filterOf(7)), entry('c')]);
    machine.handle({ type: 'message', from: 'b', message: lookup(['o', 'b']) }, 0, out);
    expect(out.sent.map((s) => s.to)).toEqual(['c']);
  });

  it('stops a lookup at the hop limit', () => {
    const { machine, out } = router('me', [], [entry('a', filterOf(7))], { hopLimit: 3 });
    machine.handle({ type: 'message', from: 'z', message: lookup(['o', 'x', 'z']) }, 0, out);
    expect(out.sent).toEqual([]);
    expect(machine.counters.hopLimitReached).toBe(1);
  });

  it('refuses a flood beyond its forwarding budget, and counts it', () => {
    const { machine, out } = router('me', [], [entry('a', filterOf(7))], { maxForwardsPerPeriod: 5 });
    for (let i = 0; i < 50; i++)
      machine.handle({ type: 'message', from: 'z', message: lookup(['z'], `q${i}`) }, 0, out);
    expect(out.sent.filter((s) => s.message.type === 'lookup')).toHaveLength(5);
    expect(machine.counters.refused).toBe(45);
    // the budget comes back the next period
    const budget = out.timers.find((t) => t.timer.type === 'budget');
    expect(budget).toBeDefined();
    machine.handle({ type: 'timer', timer: { type: 'budget' } }, 1000, out);
    machine.handle({ type: 'message', from: 'z', message: lookup(['z'], 'again') }, 1000, out);
    expect(out.sent.filter((s) => s.message.type === 'lookup')).toHaveLength(6);
  });

  it('sends a second walk of the same lookup to another peer, and remembers a bounded number of lookups', () => {
    const { machine, out } = router('me', [], [entry('a', filterOf(7)), entry('b', filterOf(7, 1))], {
      seenMemory: 4,
    });
    machine.handle({ type: 'message', from: 'x', message: lookup(['o', 'x']) }, 0, out);
    machine.handle({ type: 'message', from: 'y', message: lookup(['o', 'y']) }, 0, out);
    expect(out.sent.map((s) => s.to).sort()).toEqual(['a', 'b']);
    expect(machine.counters.duplicates).toBe(1);
  });

  it('reports the members and hops of an answer, drops forged members, and retries then fails', () => {
    const { machine, out } = router('o', [], [entry('a', filterOf(7)), entry('b')], {
      attempts: 2,
      timeout: 100,
    });
    machine.handle({ type: 'command', command: { type: 'lookup', id: 'L', domain: 'd7' } }, 0, out);
    expect(out.sent.map((s) => s.to)).toEqual(['a']);
    machine.handle(
      {
        type: 'message',
        from: 'm',
        message: {
          type: 'lookupReply',
          id: 'L',
          domain: 'd7',
          members: [forged('m'), entry('m')],
          path: ['o', 'a', 'm'],
        },
      },
      10,
      out,
    );
    expect(machine.counters.forgedEntries).toBe(1);
    expect(out.events).toEqual([
      { type: 'lookupResult', id: 'L', domain: 'd7', members: [entry('m')], hops: 2, path: ['o', 'a', 'm'] },
    ]);
    // An answer nobody asked for is counted and dropped.
    machine.handle(
      {
        type: 'message',
        from: 'm',
        message: { type: 'lookupReply', id: 'L', domain: 'd7', members: [entry('m')], path: ['o'] },
      },
      20,
      out,
    );
    expect(machine.counters.strayAnswers).toBe(1);

    out.clear();
    machine.handle({ type: 'command', command: { type: 'lookup', id: 'M', domain: 'd7' } }, 30, out);
    machine.handle({ type: 'timer', timer: { type: 'lookupTimeout', id: 'M', attempt: 1 } }, 130, out);
    // the retry avoids the first hop already tried
    expect(out.sent.map((s) => s.to)).toEqual(['a', 'b']);
    machine.handle({ type: 'timer', timer: { type: 'lookupTimeout', id: 'M', attempt: 2 } }, 230, out);
    expect(out.events).toEqual([{ type: 'lookupFailed', id: 'M', domain: 'd7', reason: 'no answer' }]);
    expect(machine.pending).toBe(0);
  });

  it('bounds the lookups in flight', () => {
    const { machine, out } = router('o', [], [entry('a')], { maxPending: 2 });
    for (const id of ['1', '2', '3'])
      machine.handle({ type: 'command', command: { type: 'lookup', id, domain: 'd7' } }, 0, out);
    expect(machine.pending).toBe(2);
    expect(machine.counters.pendingFull).toBe(1);
    expect(out.events).toEqual([
      { type: 'lookupFailed', id: '3', domain: 'd7', reason: 'too many lookups in flight' },
    ]);
  });

  it('announces a small domain toward its filter; nodes on the walk keep a pointer and answer for it', () => {
    const member = router('m', ['d7'], [entry('far', filterOf(2)), entry('near', filterOf(7))], {
      announceWalks: 1,
    });
    member.machine.start(member.out);
    const first = member.out.timers.find((t) => t.timer.type === 'announce');
    expect(first).toBeDefined();
    member.machine.start(member.out); // idempotent
    expect(member.out.timers.filter((t) => t.timer.type === 'announce')).toHaveLength(1);
    member.machine.handle({ type: 'timer', timer: { type: 'announce' } }, 10_000, member.out);
    const announce = member.out.sent.find((s) => s.message.type === 'announce');
    expect(announce?.to).toBe('near');
    expect(announce?.message).toMatchObject({ domain: 'd7', path: ['m'], entry: { peer: 'm' } });
    expect(member.out.timers.filter((t) => t.timer.type === 'announce')).toHaveLength(2);

    // `near` keeps the pointer, passes the walk on toward the filter, then answers a lookup for d7.
    const near = router('near', ['d1'], [entry('m', filterOf(7)), entry('next', filterOf(7, 2))], {
      pointerTtl: 1000,
    });
    near.machine.handle(
      { type: 'message', from: 'm', message: announce?.message as RoutingMessage },
      0,
      near.out,
    );
    expect(near.out.sent).toEqual([
      { to: 'next', message: { ...(announce?.message as RoutingMessage), path: ['m', 'near'] } },
    ]);
    near.out.clear();
    near.machine.handle({ type: 'message', from: 'x', message: lookup(['o', 'x']) }, 500, near.out);
    expect(near.out.sent).toEqual([
      {
        to: 'o',
        message: {
          type: 'lookupReply',
          id: 'q1',
          domain: 'd7',
          members: [entry('m', filterOf(7))],
          path: ['o', 'x', 'near'],
        },
      },
    ]);
    expect(near.machine.counters.answeredByPointer).toBe(1);
    // once the pointer is older than its time to live, the lookup is routed on instead
    near.out.clear();
    near.machine.handle({ type: 'message', from: 'x', message: lookup(['o', 'x'], 'q2') }, 2000, near.out);
    expect(near.out.sent.map((s) => s.message.type)).toEqual(['lookup']);
  });

  it('does not announce a domain it has cluster neighbours in, and refuses forged announces', () => {
    const { machine, out } = router('me', [], [entry('a', filterOf(7))], { maxPointerDomains: 2 });
    const bad = {
      type: 'announce',
      domain: 'd7',
      target: domainFilter('d7'),
      entry: forged('z'),
      path: ['z'],
    };
    machine.handle({ type: 'message', from: 'z', message: bad as RoutingMessage }, 0, out);
    // an entry that is not the walk's origin is refused too
    const other = { ...bad, entry: entry('y') };
    machine.handle({ type: 'message', from: 'z', message: other as RoutingMessage }, 0, out);
    expect(machine.counters.forgedEntries).toBe(2);
    expect(machine.counters.pointersTaken).toBe(0);
    expect(out.sent).toEqual([]);
    // pointers are bounded by domain: the oldest domain goes first
    for (const d of ['d3', 'd4', 'd5']) {
      const ok = { type: 'announce', domain: d, target: domainFilter(d), entry: entry('y'), path: ['y'] };
      machine.handle({ type: 'message', from: 'y', message: ok as RoutingMessage }, 0, out);
    }
    out.clear();
    machine.handle({ type: 'message', from: 'x', message: lookup(['o', 'x'], 'q3', 'd3') }, 1, out);
    expect(out.sent.map((s) => s.message.type)).toEqual(['lookup']);
    machine.handle({ type: 'message', from: 'x', message: lookup(['o', 'x'], 'q5', 'd5') }, 1, out);
    expect(out.sent.map((s) => s.message.type)).toEqual(['lookup', 'lookupReply']);

    const clustered = new DomainRouter(
      'm',
      seededRng(3),
      {
        advert: entry('m', filterOf(7)),
        domains: ['d7'],
        verify,
        similarity,
        domainFilter,
        candidates: (visit) => visit(entry('a', filterOf(7))),
        membersOf: () => [entry('b', filterOf(7)), entry('c', filterOf(7))],
      },
      {},
    );
    const out2 = new Recorder<RoutingMessage, RoutingTimer, RoutingEvent>();
    clustered.handle({ type: 'timer', timer: { type: 'announce' } }, 0, out2);
    expect(out2.sent).toEqual([]);
  });
});
