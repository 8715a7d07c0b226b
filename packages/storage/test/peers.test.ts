import { KeyPair, type NodeId } from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import { PeerBook } from '../src/peers.js';

const node = () => KeyPair.generate().id;

describe('PeerBook', () => {
  it('prefers clean, then reliable, then responsive, then idle peers', () => {
    const [a, b, c] = [node(), node(), node()];
    const book = new PeerBook([a, b, c]);
    const score = (n: NodeId) => book.scores().find((p) => p.node === n)!;
    const none = new Set<NodeId>();
    const now = 1_000_000;
    // All equal: the first one.
    expect(book.pick(none, now)!.node).toBe(a);
    // Busy peers are used after idle ones.
    const pa = book.pick(none, now)!;
    book.started(pa, now);
    expect(book.pick(none, now)!.node).toBe(b);
    // A peer that has served nothing for a while with requests pending is stalled: even a busier
    // responsive peer goes first.
    const pb = book.pick(none, now)!;
    book.started(pb, now);
    book.started(pb, now);
    pb.lastSuccess = now + 2_900;
    const later = now + 3_000;
    expect(book.pick(new Set([c]), later)!.node).toBe(b);
    // Failures, then corruption, rank a peer down whatever else it has going for it.
    pb.failures = 1;
    expect(book.pick(new Set([c]), later)!.node).toBe(a);
    pa.corrupt = 1;
    expect(book.pick(new Set([c]), later)!.node).toBe(b);
    expect(book.pick(new Set([a, b, c]), later)).toBeUndefined();
    // scores() hands out copies: changing one does not change the book.
    score(b).failures = 0;
    expect(book.pick(new Set([c]), later)!.node).toBe(b);
    expect(score(b).failures).toBe(1);
  });

  it('raises the stall bar on a slow link, so a slow peer is not taken for a dead one', () => {
    const [a, b] = [node(), node()];
    const book = new PeerBook([a, b]);
    const none = new Set<NodeId>();
    const now = 1_000_000;
    const pa = book.pick(none, now)!;
    book.started(pa, now);
    expect(book.isStalled(pa, now + 3_000)).toBe(true);
    // Requests have been taking 5 s each: 3 s without an answer is normal.
    book.succeeded(book.pick(new Set([a]), now)!, 5_000, now);
    expect(book.isStalled(pa, now + 3_000)).toBe(false);
    expect(book.isStalled(pa, now + 25_000)).toBe(true);
    expect(book.pickResponsive(new Set([b]), now + 25_000)).toBeUndefined();
  });
});
