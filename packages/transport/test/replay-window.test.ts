import { describe, expect, it } from 'vitest';
import { ReplayWindow } from '../src/replay-window.js';

describe('ReplayWindow', () => {
  it('accepts each id once, in order or out of order within the window', () => {
    const w = new ReplayWindow(64);
    expect(w.accept(1)).toBe(true);
    expect(w.accept(3)).toBe(true);
    expect(w.accept(2)).toBe(true);
    expect(w.accept(2)).toBe(false);
    expect(w.accept(3)).toBe(false);
    expect(w.accept(100)).toBe(true);
    // 40 is within the window below 100 and was never seen; 30 is older than the window.
    expect(w.accept(40)).toBe(true);
    expect(w.accept(40)).toBe(false);
    expect(w.accept(30)).toBe(false);
  });

  it('never reports a fresh id as seen after the window slides over old slots', () => {
    const w = new ReplayWindow(32);
    for (let id = 1; id <= 1000; id += 3) expect(w.accept(id)).toBe(true);
    for (let id = 1000 - 30; id <= 1000; id++) {
      if ((id - 1) % 3 !== 0) expect(w.accept(id)).toBe(true);
    }
    expect(w.accept(5000)).toBe(true);
    expect(w.accept(4990)).toBe(true);
    expect(w.accept(4990)).toBe(false);
  });
});
