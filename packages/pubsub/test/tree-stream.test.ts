import { describe, expect, it } from 'vitest';
import { type StreamPosition, StreamReceiver } from '../src/index.js';

const ev = (seq: number, epoch = 1, expiry = 0) => ({ seq, epoch, expiry });

function receiver(
  options: { initial?: StreamPosition; startWindowMs?: number; reorderWindow?: number } = {},
) {
  const delivered: number[] = [];
  const fetched: number[][] = [];
  const r = new StreamReceiver<ReturnType<typeof ev>>({
    deliver: (_s, e) => delivered.push(e.seq),
    fetch: (_s, _epoch, seqs) => fetched.push(seqs),
    initial: () => options.initial,
    startWindowMs: options.startWindowMs ?? 0,
    gapTimeoutMs: 1000,
    maxFetch: 8,
    reorderWindow: options.reorderWindow ?? 16,
  });
  return { r, delivered, fetched };
}

describe('StreamReceiver', () => {
  it('delivers in order, holds what overtakes, fetches the gap, drops replays', () => {
    const { r, delivered, fetched } = receiver();
    expect(r.offer('s', ev(1), 0)).toBe('delivered');
    expect(r.offer('s', ev(4), 0)).toBe('held');
    expect(fetched).toEqual([[2, 3]]);
    expect(r.offer('s', ev(3), 0)).toBe('held');
    expect(r.offer('s', ev(2), 0)).toBe('delivered');
    expect(delivered).toEqual([1, 2, 3, 4]);
    expect(r.offer('s', ev(2), 0)).toBe('duplicate');
    expect(r.offer('s', ev(4), 0)).toBe('duplicate');
    expect(r.counters.duplicates).toBe(2);
  });

  it('skips a gap that stays open past the timeout, and counts what it missed', () => {
    const { r, delivered } = receiver();
    r.offer('s', ev(1), 0);
    r.offer('s', ev(5), 0);
    r.tick(999);
    expect(delivered).toEqual([1]);
    r.tick(1000);
    expect(delivered).toEqual([1, 5]);
    expect(r.counters.missed).toBe(3);
  });

  it('fetches at most maxFetch of a long gap, and skips when the held events fill the window', () => {
    const { r, delivered, fetched } = receiver({ reorderWindow: 3 });
    r.offer('s', ev(1), 0);
    r.offer('s', ev(100), 0);
    expect(fetched).toEqual([[92, 93, 94, 95, 96, 97, 98, 99]]);
    for (const seq of [101, 102, 103]) r.offer('s', ev(seq), 0);
    expect(delivered).toEqual([1, 100, 101, 102, 103]);
    expect(r.held).toBe(0);
  });

  it('refuses expired events and stale epochs; a new epoch starts at 1', () => {
    const { r, delivered, fetched } = receiver();
    r.offer('s', ev(7, 2), 0);
    expect(r.offer('s', ev(8, 2, 5), 10)).toBe('expired');
    expect(r.offer('s', ev(9, 1), 10)).toBe('stale');
    expect(r.offer('s', ev(3, 3), 10)).toBe('held');
    expect(fetched.at(-1)).toEqual([1, 2]);
    r.offer('s', ev(1, 3), 10);
    r.offer('s', ev(2, 3), 10);
    expect(delivered).toEqual([7, 1, 2, 3]);
  });

  it('a restarted subscriber resumes after its saved cursor and fetches what it missed', () => {
    const { r, delivered, fetched } = receiver({ initial: { epoch: 1, cursor: 10 } });
    expect(r.offer('s', ev(14), 0)).toBe('held');
    expect(fetched).toEqual([[11, 12, 13]]);
    for (const seq of [12, 11, 13]) r.offer('s', ev(seq), 0);
    expect(delivered).toEqual([11, 12, 13, 14]);
  });

  it('a fresh stream collects its first events before it starts, so an overtaking event does not skip the earlier ones', () => {
    const { r, delivered } = receiver({ startWindowMs: 100 });
    expect(r.offer('s', ev(50), 0)).toBe('held');
    expect(r.offer('s', ev(48), 10)).toBe('held');
    expect(r.offer('s', ev(49), 20)).toBe('held');
    r.tick(99);
    expect(delivered).toEqual([]);
    r.tick(100);
    expect(delivered).toEqual([48, 49, 50]);
    expect(r.offer('s', ev(47), 200)).toBe('duplicate');
  });
});

describe('StreamReceiver fetch retries', () => {
  it('asks again for what is still missing while the gap is open', () => {
    const fetched: number[][] = [];
    const r = new StreamReceiver<ReturnType<typeof ev>>({
      deliver: () => undefined,
      fetch: (_s, _e, seqs) => fetched.push(seqs),
      startWindowMs: 0,
      gapTimeoutMs: 5000,
      fetchRetryMs: 1000,
    });
    r.offer('s', ev(1), 0);
    r.offer('s', ev(5), 0);
    r.offer('s', ev(3), 10);
    r.tick(999);
    expect(fetched).toEqual([[2, 3, 4]]);
    r.tick(1000);
    expect(fetched).toEqual([
      [2, 3, 4],
      [2, 4],
    ]);
  });
});
