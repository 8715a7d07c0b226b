import { describe, expect, it } from 'vitest';
import { PLUMTREE_LIMITS, sourceOfId } from '../src/index.js';
import { bytes, Harness } from './plumtree-harness.js';

/** Every pair of `names` linked: a complete graph. */
function complete(names: readonly string[], options = {}): Harness {
  const h = new Harness(names, options);
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) h.link(names[i] as string, names[j] as string);
  }
  return h;
}

/** Eager links of `tree` as undirected edges, each counted once (both ends must agree). */
function eagerEdges(h: Harness, tree: string): string[] {
  const edges: string[] = [];
  for (const [name, machine] of h.machines) {
    for (const peer of machine.eagerPeers(tree)) {
      expect(h.machine(peer).eagerPeers(tree)).toContain(name);
      if (name < peer) edges.push(`${name}-${peer}`);
    }
  }
  return edges;
}

describe('PlumTree', () => {
  it('delivers a broadcast once everywhere, and its duplicates prune the graph to a spanning tree', () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    const h = complete(names);
    h.command('a', { type: 'broadcast', id: 'a/1', payload: bytes(1) });
    h.settle();
    for (const name of names.slice(1)) {
      expect(h.delivered(name)).toEqual([
        expect.objectContaining({ type: 'deliver', id: 'a/1', payload: bytes(1) }),
      ]);
    }
    expect(h.delivered('a')).toEqual([]); // the origin does not deliver its own broadcast
    // Duplicates prune: a tree over 6 nodes keeps 5 of the 15 links, the same on both ends.
    expect(eagerEdges(h, 'a')).toHaveLength(5);
    expect(h.sentOf('prune').length).toBeGreaterThan(0);

    // The next broadcast from the same source travels the tree only: one copy per node, no duplicates.
    const before = h.sentOf('gossip').length;
    h.command('a', { type: 'broadcast', id: 'a/2', payload: bytes(2) });
    h.settle();
    expect(h.sentOf('gossip').length - before).toBe(5);
    for (const name of names.slice(1)) expect(h.delivered(name)).toHaveLength(2);
    const duplicates = names.reduce((sum, n) => sum + h.machine(n).counters().duplicates, 0);
    const afterFirst = duplicates;
    h.command('a', { type: 'broadcast', id: 'a/3', payload: bytes(3) });
    h.settle();
    expect(names.reduce((sum, n) => sum + h.machine(n).counters().duplicates, 0)).toBe(afterFirst);
  });

  it('keeps one tree per source: a second source floods once and builds its own tree', () => {
    const names = ['a', 'b', 'c', 'd'];
    const h = complete(names);
    h.command('a', { type: 'broadcast', id: 'a/1', payload: bytes(1) });
    h.settle();
    h.command('c', { type: 'broadcast', id: 'c/1', payload: bytes(2) });
    h.settle();
    expect(eagerEdges(h, 'a')).toHaveLength(3);
    expect(eagerEdges(h, 'c')).toHaveLength(3);
    expect(h.machine('b').trees().sort()).toEqual(['a', 'c']);
    expect(h.delivered('a').map((e) => e.type === 'deliver' && e.id)).toEqual(['c/1']);
    expect(sourceOfId('pub/key/42')).toBe('pub/key');
    expect(sourceOfId('plain')).toBe('');
  });

  it('answers a duplicate over a tree link with Prune, and the pruned link then only announces', () => {
    const h = new Harness(['x', 'p', 'q']);
    h.link('x', 'p');
    h.link('x', 'q');
    // p and q both push the same message to x (as two tree parents would).
    h.receive('x', 'p', { type: 'gossip', id: 's/1', payload: bytes(9), hops: 2 });
    h.receive('x', 'q', { type: 'gossip', id: 's/1', payload: bytes(9), hops: 3 });
    expect(h.delivered('x')).toHaveLength(1);
    expect(h.sentOf('prune', 'x', 'q')).toEqual([
      expect.objectContaining({ message: { type: 'prune', tree: 's' } }),
    ]);
    expect(h.machine('x').eagerPeers('s')).toEqual(['p']);
    expect(h.machine('x').lazyPeers('s')).toEqual(['q']);
    expect(h.machine('x').counters().duplicates).toBe(1);
  });

  it('grafts the announcer of a message that does not arrive, and the link joins the tree', () => {
    // A triangle: a's first broadcast prunes b–c, leaving the tree a–b, a–c. Then a's link to b fails:
    // b hears of a/2 only through c's announcement, grafts c, and c's answer makes b–c a tree link.
    const h = new Harness(['a', 'b', 'c']);
    h.link('a', 'b');
    h.link('b', 'c');
    h.link('a', 'c');
    h.command('a', { type: 'broadcast', id: 'a/1', payload: bytes(1) });
    h.settle();
    expect(eagerEdges(h, 'a').sort()).toEqual(['a-b', 'a-c']);
    h.cut.add('a>b');
    h.command('a', { type: 'broadcast', id: 'a/2', payload: bytes(2) });
    h.settle();
    expect(h.delivered('b')).toHaveLength(1);
    expect(h.sentOf('ihave', 'c', 'b')).toHaveLength(1);
    expect(h.fire('b', 'graft')).toBe(1);
    expect(h.sentOf('graft', 'b')).toEqual([
      expect.objectContaining({ to: 'c', message: { type: 'graft', tree: 'a', ids: ['a/2'] } }),
    ]);
    h.settle();
    expect(h.delivered('b').map((e) => e.type === 'deliver' && e.id)).toEqual(['a/1', 'a/2']);
    expect(h.sentOf('reply', 'c', 'b')).toHaveLength(1);
    expect(h.machine('b').eagerPeers('a').sort()).toEqual(['a', 'c']);
    expect(h.machine('c').eagerPeers('a').sort()).toEqual(['a', 'b']);
    // The healed tree carries the next message to b without another graft.
    h.command('a', { type: 'broadcast', id: 'a/3', payload: bytes(3) });
    h.settle();
    expect(h.delivered('b')).toHaveLength(3);
    expect(h.sentOf('graft', 'b')).toHaveLength(1);
  });

  it('asks for everything a stalled parent owes in one Graft to the announcer, not one per message', () => {
    const h = new Harness(['x', 'p', 'l']);
    h.link('x', 'p');
    h.link('x', 'l');
    h.receive('x', 'p', { type: 'gossip', id: 's/1', payload: bytes(1), hops: 1 });
    h.receive('x', 'l', { type: 'prune', tree: 's' }); // l is a lazy link of s; p the parent
    const owed = ['s/2', 's/3', 's/4', 's/5', 's/6'];
    h.receive('x', 'l', { type: 'ihave', entries: owed.map((id) => ({ id, hops: 1 })) });
    expect(h.fire('x', 'graft')).toBe(5); // p pushes nothing more: every timer comes due together
    expect(h.sentOf('graft', 'x')).toEqual([
      expect.objectContaining({ to: 'l', message: { type: 'graft', tree: 's', ids: owed } }),
    ]);
    expect(h.machine('x').counters().askedAlong).toBe(4);
    // Each one asked along has its own timer for the next announcer; with none left, it is given up.
    expect(h.fire('x', 'graft')).toBe(5);
    expect(h.sentOf('graft', 'x')).toHaveLength(1);
    expect(h.machine('x').counters().graftsExhausted).toBe(5);
  });

  it('announces, rather than pushes, a fetched message to the parent, which would prune us for it', () => {
    const h = new Harness(['x', 'p', 'c', 'q']);
    for (const peer of ['p', 'c', 'q']) h.link('x', peer);
    h.receive('x', 'p', { type: 'gossip', id: 's/1', payload: bytes(1), hops: 1 });
    // s/2 comes as the answer to a Want (the parent is late with it): c gets it pushed, p only hears of it.
    h.receive('x', 'q', { type: 'reply', id: 's/2', payload: bytes(2), hops: 2 });
    expect(h.sentOf('gossip', 'x', 'c').map((s) => s.message.type === 'gossip' && s.message.id)).toEqual([
      's/1',
      's/2',
    ]);
    expect(h.sentOf('gossip', 'x', 'p')).toEqual([]);
    h.fire('x', 'ihaveFlush');
    expect(h.sentOf('ihave', 'x', 'p')).toEqual([
      expect.objectContaining({ message: { type: 'ihave', entries: [{ id: 's/2', hops: 2 }] } }),
    ]);
  });

  it('does not prune its last parent for copies a pruned parent pushed before it saw the Prune', () => {
    const h = new Harness(['x', 'a', 'b']);
    h.link('x', 'a');
    h.link('x', 'b');
    const push = (from: string, id: string) =>
      h.receive('x', from, { type: 'gossip', id, payload: bytes(1), hops: 1 });
    push('a', 's/1');
    push('b', 's/1'); // b lost the race: pruned
    expect(h.machine('x').lazyPeers('s')).toEqual(['b']);
    push('b', 's/2'); // b has not seen the Prune yet and wins this one
    push('a', 's/2'); // a, the one parent left, is kept
    expect(h.machine('x').eagerPeers('s')).toEqual(['a']);
    expect(h.sentOf('prune', 'x').map((s) => s.to)).toEqual(['b']);
    expect(h.machine('x').counters().prunesSpared).toBe(1);
  });

  it('grafts again a pruned link that keeps pushing first copies: its Prune was only late', () => {
    const h = new Harness(['x', 'a', 'b']);
    h.link('x', 'a');
    h.link('x', 'b');
    const push = (from: string, id: string) =>
      h.receive('x', from, { type: 'gossip', id, payload: bytes(1), hops: 1 });
    push('b', 's/1');
    push('a', 's/1'); // a lost the start-up race: pruned, but the Prune waits in a's queue
    for (const id of ['s/2', 's/3']) push('a', id);
    expect(h.sentOf('graft', 'x')).toEqual([]);
    push('a', 's/4'); // three first copies in a row: a is the parent in fact
    expect(h.sentOf('graft', 'x')).toEqual([
      expect.objectContaining({ to: 'a', message: { type: 'graft', tree: 's', ids: [] } }),
    ]);
    expect(h.machine('x').eagerPeers('s').sort()).toEqual(['a', 'b']);
    expect(h.machine('x').counters().regrafts).toBe(1);
  });

  it('answers a copy pushed by a node that is not its neighbour with Prune', () => {
    const h = new Harness(['x', 'p']);
    h.link('x', 'p');
    h.receive('x', 'p', { type: 'gossip', id: 's/1', payload: bytes(1), hops: 1 });
    // 'q' still counts x as one of its tree links (x dropped it from its view, or never had it).
    h.receive('x', 'q', { type: 'gossip', id: 's/1', payload: bytes(1), hops: 2 });
    expect(h.sentOf('prune', 'x', 'q')).toEqual([
      expect.objectContaining({ message: { type: 'prune', tree: 's' } }),
    ]);
    expect(h.machine('x').eagerPeers('s')).toEqual(['p']);
    expect(h.machine('x').lazyPeers('s')).toEqual([]);
  });

  describe('graft timeouts that follow how late pushes run', () => {
    /** x has tree s with parent p and lazy l; `lag` ms after l announced s/2, p pushes it. */
    function latePush(lag: number, options = {}): Harness {
      const h = new Harness(['x', 'p', 'l'], options);
      h.link('x', 'p');
      h.link('x', 'l');
      h.receive('x', 'p', { type: 'gossip', id: 's/1', payload: bytes(1), hops: 1 });
      h.receive('x', 'l', { type: 'prune', tree: 's' });
      h.receive('x', 'l', { type: 'ihave', entries: [{ id: 's/2', hops: 1 }] });
      h.now += lag;
      h.receive('x', 'p', { type: 'gossip', id: 's/2', payload: bytes(2), hops: 1 });
      return h;
    }

    /** The wait of the graft timer set for the next announcement l makes. */
    function nextGraftWait(h: Harness, id: string): number | undefined {
      h.timers.set('x', []);
      h.receive('x', 'l', { type: 'ihave', entries: [{ id, hops: 1 }] });
      return h.timers.get('x')?.find((t) => t.timer.type === 'graft')?.after;
    }

    it('waits twice the latest lag before grafting, forgets it by half every 2 s, and stops at graftTimeoutMax', () => {
      const h = latePush(300);
      expect(nextGraftWait(h, 's/3')).toBe(600);
      h.now += 2000;
      expect(nextGraftWait(h, 's/4')).toBe(300);
      h.now += 20_000;
      expect(nextGraftWait(h, 's/5')).toBe(80); // back to graftTimeout
      expect(nextGraftWait(latePush(5000), 's/3')).toBe(1000);
    });

    it('keeps the fixed timeouts when graftTimeoutMax is not above graftTimeout', () => {
      expect(nextGraftWait(latePush(300, { graftTimeoutMax: 80 }), 's/3')).toBe(80);
    });

    it('tries the next announcer after the latest lag, not the fixed second timeout', () => {
      const h = latePush(300);
      h.receive('x', 'l', { type: 'ihave', entries: [{ id: 's/9', hops: 1 }] });
      h.receive('x', 'p', { type: 'ihave', entries: [{ id: 's/9', hops: 1 }] });
      h.timers.set('x', [{ timer: { type: 'graft', id: 's/9', attempt: 0 }, after: 0 }]);
      h.fire('x', 'graft');
      expect(h.sentOf('graft', 'x').map((s) => s.to)).toEqual(['l']);
      expect(h.timers.get('x')).toEqual([{ timer: { type: 'graft', id: 's/9', attempt: 1 }, after: 300 }]);
    });
  });

  it('tries the next announcer when the first does not answer a graft', () => {
    const h = new Harness(['x', 'l1', 'l2']);
    h.link('x', 'l1');
    h.link('x', 'l2');
    h.cut.add('l1>x'); // l1 announces but never answers
    for (const from of ['l1', 'l2']) {
      h.receive('x', from, { type: 'ihave', entries: [{ id: 's/7', hops: 1 }] });
    }
    h.fire('x', 'graft'); // first timeout: graft l1
    expect(h.sentOf('graft', 'x').map((s) => s.to)).toEqual(['l1']);
    h.fire('x', 'graft'); // second timeout: graft l2
    expect(h.sentOf('graft', 'x').map((s) => s.to)).toEqual(['l1', 'l2']);
    // l2 has nothing cached (it never saw s/7 in this test), so deliver it by hand as its reply.
    h.receive('x', 'l2', { type: 'reply', id: 's/7', payload: bytes(7), hops: 2 });
    expect(h.delivered('x')).toHaveLength(1);
    h.fire('x', 'graft'); // the remaining timer finds the message delivered and does nothing
    expect(h.sentOf('graft', 'x')).toHaveLength(2);
  });

  describe('a graft waits while the tree still delivers in order', () => {
    /** x has the tree s with parent p (eager) and l (lazy): l's announcements race p's pushes. */
    function parentAndLazy(options = {}): Harness {
      const h = new Harness(['x', 'p', 'l'], options);
      h.link('x', 'p');
      h.link('x', 'l');
      h.receive('x', 'p', { type: 'gossip', id: 's/1', payload: bytes(1), hops: 1 });
      h.receive('x', 'l', { type: 'prune', tree: 's' });
      expect(h.machine('x').lazyPeers('s')).toEqual(['l']);
      return h;
    }

    it('puts the graft off while the parent pushes earlier messages, and needs none once it arrives', () => {
      const h = parentAndLazy();
      h.receive('x', 'l', { type: 'ihave', entries: [{ id: 's/4', hops: 1 }] });
      h.receive('x', 'p', { type: 'gossip', id: 's/2', payload: bytes(2), hops: 1 });
      expect(h.fire('x', 'graft')).toBe(1);
      h.receive('x', 'p', { type: 'gossip', id: 's/3', payload: bytes(3), hops: 1 });
      expect(h.fire('x', 'graft')).toBe(1);
      h.receive('x', 'p', { type: 'gossip', id: 's/4', payload: bytes(4), hops: 1 });
      expect(h.fire('x', 'graft')).toBe(1); // finds s/4 delivered
      expect(h.sentOf('graft', 'x')).toHaveLength(0);
      expect(h.machine('x').counters()).toMatchObject({ graftsDeferred: 2, duplicates: 0 });
    });

    it('grafts once the tree stops delivering', () => {
      const h = parentAndLazy();
      h.receive('x', 'l', { type: 'ihave', entries: [{ id: 's/4', hops: 1 }] });
      h.receive('x', 'p', { type: 'gossip', id: 's/2', payload: bytes(2), hops: 1 });
      h.fire('x', 'graft'); // progress since the announcement: wait another timeout
      expect(h.sentOf('graft', 'x')).toHaveLength(0);
      h.fire('x', 'graft'); // nothing arrived since: the parent has stopped
      expect(h.sentOf('graft', 'x')).toEqual([
        expect.objectContaining({ to: 'l', message: { type: 'graft', tree: 's', ids: ['s/4'] } }),
      ]);
    });

    it("fetches an overtaken message with a Want, leaves the links, and takes the parent's late copy for no cycle", () => {
      const h = parentAndLazy();
      h.receive('x', 'l', { type: 'ihave', entries: [{ id: 's/4', hops: 1 }] });
      h.receive('x', 'p', { type: 'gossip', id: 's/5', payload: bytes(5), hops: 1 });
      h.fire('x', 'graft');
      expect(h.sentOf('graft', 'x')).toHaveLength(0);
      expect(h.sentOf('want', 'x').map((s) => [s.to, s.message])).toEqual([
        ['l', { type: 'want', ids: ['s/4'] }],
      ]);
      expect(h.machine('x').lazyPeers('s')).toEqual(['l']);
      h.receive('x', 'l', { type: 'reply', id: 's/4', payload: bytes(4), hops: 2 });
      h.receive('x', 'p', { type: 'gossip', id: 's/4', payload: bytes(4), hops: 1 }); // the parent, late
      expect(h.sentOf('prune', 'x')).toHaveLength(0);
      expect(h.machine('x').lazyPeers('s')).toEqual(['l']);
      expect(h.machine('x').counters()).toMatchObject({
        graftsDeferred: 0,
        graftsAsWants: 1,
        lateAfterWant: 1,
        duplicates: 1,
      });
      // A copy pushed again after that is a cycle as before.
      h.receive('x', 'l', { type: 'gossip', id: 's/4', payload: bytes(4), hops: 2 });
      expect(h.sentOf('prune', 'x').map((s) => s.to)).toEqual(['l']);
    });

    it('grafts an overtaken message at the first timeout with wantWhileDelivering off', () => {
      const h = parentAndLazy({ wantWhileDelivering: false });
      h.receive('x', 'l', { type: 'ihave', entries: [{ id: 's/4', hops: 1 }] });
      h.receive('x', 'p', { type: 'gossip', id: 's/5', payload: bytes(5), hops: 1 });
      h.fire('x', 'graft');
      expect(h.sentOf('graft', 'x').map((s) => s.to)).toEqual(['l']);
      expect(h.machine('x').counters().graftsDeferred).toBe(0);
    });

    it('stops deferring after graftDeferLimit (then a Want while the tree delivers, else a Graft), and never with 0', () => {
      for (const wantWhileDelivering of [true, false]) {
        const h = parentAndLazy({ graftDeferLimit: 200, wantWhileDelivering });
        h.receive('x', 'l', { type: 'ihave', entries: [{ id: 's/9', hops: 1 }] });
        for (let seq = 2; seq < 9; seq++) {
          h.now += 80;
          h.receive('x', 'p', { type: 'gossip', id: `s/${seq}`, payload: bytes(seq), hops: 1 });
          h.fire('x', 'graft');
        }
        expect(h.sentOf(wantWhileDelivering ? 'want' : 'graft', 'x')).toHaveLength(1);
        expect(h.sentOf(wantWhileDelivering ? 'graft' : 'want', 'x')).toHaveLength(0);
        expect(h.machine('x').counters().graftsDeferred).toBe(2);

        const plain = parentAndLazy({ graftDeferLimit: 0, wantWhileDelivering });
        plain.receive('x', 'l', { type: 'ihave', entries: [{ id: 's/4', hops: 1 }] });
        plain.receive('x', 'p', { type: 'gossip', id: 's/2', payload: bytes(2), hops: 1 });
        plain.fire('x', 'graft');
        expect(plain.sentOf(wantWhileDelivering ? 'want' : 'graft', 'x')).toHaveLength(1);
      }
    });

    it('does not fetch what a graft timer is already after', () => {
      const h = parentAndLazy();
      h.receive('x', 'l', { type: 'ihave', entries: [{ id: 's/4', hops: 1 }] });
      h.command('x', { type: 'fetch', ids: ['s/3', 's/4'] });
      expect(h.sentOf('want', 'x').map((s) => s.message)).toEqual([
        { type: 'want', ids: ['s/3'] },
        { type: 'want', ids: ['s/3'] },
      ]);
    });
  });

  it('drops what accept() refuses: not delivered, not forwarded, not remembered', () => {
    const h = new Harness(['x', 'p', 'y'], { accept: (_id, payload) => payload[0] !== 0xff });
    h.link('x', 'p');
    h.link('x', 'y');
    h.receive('x', 'p', { type: 'gossip', id: 's/1', payload: bytes(0xff), hops: 1 });
    expect(h.delivered('x')).toEqual([]);
    expect(h.events.get('x')).toContainEqual({ type: 'rejected', id: 's/1', from: 'p' });
    expect(h.sentOf('gossip', 'x')).toEqual([]);
    expect(h.machine('x').hasSeen('s/1')).toBe(false);
    expect(h.machine('x').counters().rejected).toBe(1);
    // The genuine copy of the same id still gets through.
    h.receive('x', 'y', { type: 'gossip', id: 's/1', payload: bytes(1), hops: 1 });
    expect(h.delivered('x')).toHaveLength(1);
    expect(h.sentOf('gossip', 'x', 'p')).toHaveLength(1);
  });

  it('fetches missed messages from neighbours; answers are delivered once', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.link('a', 'b');
    h.link('a', 'c');
    h.cut.add('b>a');
    h.cut.add('c>a');
    h.command('b', { type: 'broadcast', id: 'b/1', payload: bytes(5) });
    h.command('c', { type: 'broadcast', id: 'b/1', payload: bytes(5) }); // c has it too
    h.settle();
    expect(h.delivered('a')).toEqual([]);
    h.cut.clear();
    h.command('a', { type: 'fetch', ids: ['b/1', 'b/2'] });
    expect(
      h
        .sentOf('want', 'a')
        .map((s) => s.to)
        .sort(),
    ).toEqual(['b', 'c']);
    h.settle();
    expect(h.delivered('a')).toEqual([expect.objectContaining({ id: 'b/1', payload: bytes(5) })]);
    expect(h.machine('a').counters().duplicates).toBe(1);
    // A duplicate answer does not prune anything.
    expect(h.sentOf('prune', 'a')).toEqual([]);
  });

  it('with fetchFrom, asks that many neighbours per fetch, the next ones when asked again', () => {
    const h = new Harness(['a', 'b', 'c', 'd'], { fetchFrom: 1 });
    for (const peer of ['b', 'c', 'd']) h.link('a', peer);
    for (const peer of ['b', 'c', 'd']) h.command(peer, { type: 'broadcast', id: 'x/1', payload: bytes(5) });
    h.settle();
    const delivered = h.delivered('a').length;
    h.command('a', { type: 'fetch', ids: ['x/2'] });
    h.command('a', { type: 'fetch', ids: ['x/2'] });
    h.command('a', { type: 'fetch', ids: ['x/2'] });
    h.command('a', { type: 'fetch', ids: ['x/2'] });
    const asked = h.sentOf('want', 'a').map((s) => s.to);
    expect(asked).toHaveLength(4);
    expect(new Set(asked.slice(0, 3)).size).toBe(3); // each neighbour in turn
    expect(asked[3]).toBe(asked[0]);
    expect(h.delivered('a')).toHaveLength(delivered);
    expect(() => new Harness(['a'], { fetchFrom: -1 })).toThrow(RangeError);
  });

  it('keeps its structures bounded: seen ids, cache, pending announcements, outbox, trees', () => {
    const h = new Harness(['x', 'p', 'l'], {
      seenCapacity: 10,
      cacheSize: 5,
      pendingCapacity: 3,
      maxTrees: 2,
    });
    h.link('x', 'p');
    h.link('x', 'l');
    // Make l a lazy link of tree s, so x queues announcements for it.
    h.receive('x', 'l', { type: 'prune', tree: 's' });
    h.receive('x', 'p', { type: 'gossip', id: 's/0', payload: bytes(0), hops: 1 });
    h.receive('x', 'l', { type: 'prune', tree: 's' });
    for (let i = 1; i <= 600; i++) {
      h.receive('x', 'p', { type: 'gossip', id: `s/${i}`, payload: bytes(i % 256), hops: 1 });
      const sizes = h.machine('x').sizes();
      expect(sizes.seen).toBeLessThanOrEqual(10);
      expect(sizes.cache).toBeLessThanOrEqual(5);
      expect(sizes.outbox).toBeLessThan(PLUMTREE_LIMITS.maxIdsPerMessage);
    }
    // A full batch goes out without waiting for the timer.
    expect(h.sentOf('ihave', 'x', 'l').length).toBeGreaterThanOrEqual(2);
    expect(
      h.sentOf('ihave', 'x', 'l').every((s) => s.message.type === 'ihave' && s.message.entries.length <= 256),
    ).toBe(true);
    // The oldest seen ids are forgotten first.
    expect(h.machine('x').hasSeen('s/600')).toBe(true);
    expect(h.machine('x').hasSeen('s/1')).toBe(false);
    // Pending announcements: only 3 tracked, the rest counted and ignored.
    for (let i = 0; i < 10; i++) {
      h.receive('x', 'l', { type: 'ihave', entries: [{ id: `t/${i}`, hops: 0 }] });
    }
    expect(h.machine('x').sizes().pending).toBe(3);
    expect(h.machine('x').counters().pendingDropped).toBe(7);
    // Trees: at most 2, the least recently used forgotten.
    for (const source of ['u', 'v', 'w']) {
      h.receive('x', 'p', { type: 'gossip', id: `${source}/1`, payload: bytes(1), hops: 1 });
    }
    expect(h.machine('x').trees()).toEqual(['v', 'w']);
  });

  it('does not make a tree for a Graft that names an unknown source', () => {
    const h = new Harness(['x', 'y'], { maxTrees: 2 });
    h.link('x', 'y');
    h.command('x', { type: 'broadcast', id: 'x/1', payload: bytes(1) });
    for (let i = 0; i < 5; i++) h.receive('x', 'y', { type: 'graft', tree: `ghost${i}`, ids: [] });
    expect(h.machine('x').trees()).toEqual(['x']);
    // A Graft of a known tree is honoured (and answered with what is cached).
    h.receive('x', 'y', { type: 'prune', tree: 'x' });
    expect(h.machine('x').lazyPeers('x')).toEqual(['y']);
    h.receive('x', 'y', { type: 'graft', tree: 'x', ids: ['x/1'] });
    expect(h.machine('x').eagerPeers('x')).toEqual(['y']);
    expect(h.sentOf('reply', 'x', 'y')).toHaveLength(1);
  });

  it('expires cached payloads by age: a late graft gets no answer', () => {
    const h = new Harness(['x', 'y'], { cacheTtl: 1000 });
    h.link('x', 'y');
    h.command('x', { type: 'broadcast', id: 'x/1', payload: bytes(1) });
    h.run();
    h.now = 5000;
    h.receive('x', 'y', { type: 'graft', tree: 'x', ids: ['x/1'] });
    expect(h.sentOf('reply', 'x')).toEqual([]);
    expect(h.machine('x').sizes().cache).toBe(0);
  });

  it('forgets a neighbour that went down: no pushes, no announcements, no grafts to it', () => {
    const h = complete(['a', 'b', 'c']);
    h.command('a', { type: 'neighborDown', peer: 'b' });
    h.command('a', { type: 'broadcast', id: 'a/1', payload: bytes(1) });
    expect(h.sentOf('gossip', 'a').map((s) => s.to)).toEqual(['c']);
    expect(h.machine('a').eagerPeers()).toEqual(['c']);
    expect(h.events.get('a')).toContainEqual({ type: 'treeChanged', tree: '', peer: 'b', link: 'none' });
  });
});
