import { describe, expect, it } from 'vitest';
import { PreparedBudget, PreparedRun } from '../src/prepared-ciphers.js';

describe('PreparedRun', () => {
  it('gives each prepared object once, for its own counter, within a shared budget', () => {
    const budget = new PreparedBudget(6);
    const a = new PreparedRun<string>(budget);
    a.fill(10, 4, (n) => `a${n}`);
    expect(budget.held).toBe(4);
    expect(a.take(9)).toBeUndefined();
    expect(a.take(11)).toBe('a11');
    expect(a.take(11)).toBeUndefined();
    expect(a.take(10)).toBe('a10');
    expect(a.endsBefore(13)).toBe(false);
    expect(a.endsBefore(14)).toBe(true);
    expect(budget.held).toBe(2);
    // Refilled past the run: what was left is dropped and given back to the budget first.
    a.fill(14, 4, (n) => `a${n}`);
    expect(a.take(12)).toBeUndefined();
    expect(a.left).toBe(4);
    expect(budget.held).toBe(4);
    a.clear();
    expect(budget.held).toBe(0);
    expect(a.take(14)).toBeUndefined();
  });

  it('takes room for a run from the runs filled longest ago, never more than the budget', () => {
    const budget = new PreparedBudget(6);
    const [a, b, c] = [0, 1, 2].map(() => new PreparedRun<string>(budget)) as [
      PreparedRun<string>,
      PreparedRun<string>,
      PreparedRun<string>,
    ];
    a.fill(0, 3, (n) => `a${n}`);
    b.fill(0, 3, (n) => `b${n}`);
    // c needs 3: a, filled first (say its session was replaced), gives its objects up.
    c.fill(0, 3, (n) => `c${n}`);
    expect([a.left, b.left, c.left]).toEqual([0, 3, 3]);
    expect(a.take(0)).toBeUndefined();
    // b refills and so becomes the newest: c goes next.
    b.fill(3, 3, (n) => `b${n}`);
    a.fill(0, 3, (n) => `a${n}`);
    expect([a.left, b.left, c.left]).toEqual([3, 3, 0]);
    // More than the budget: capped at it.
    c.fill(0, 10, (n) => `c${n}`);
    expect(c.left).toBe(6);
    expect(budget.held).toBe(6);
  });
});
