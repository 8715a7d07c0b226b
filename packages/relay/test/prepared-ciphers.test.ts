import { describe, expect, it } from 'vitest';
import { PreparedBudget, PreparedRun } from '../src/prepared-ciphers.js';

describe('PreparedRun', () => {
  it('gives each prepared object once, for its own counter, within a shared budget', () => {
    const budget = new PreparedBudget(5);
    const a = new PreparedRun<string>(budget);
    const b = new PreparedRun<string>(budget);
    a.fill(10, 4, (n) => `a${n}`);
    expect(budget.held).toBe(4);
    // The budget is shared: b gets only what is left.
    b.fill(0, 4, (n) => `b${n}`);
    expect(b.left).toBe(1);
    expect(budget.held).toBe(5);
    expect(a.take(9)).toBeUndefined();
    expect(a.take(11)).toBe('a11');
    expect(a.take(11)).toBeUndefined();
    expect(a.take(10)).toBe('a10');
    expect(a.endsBefore(13)).toBe(false);
    expect(a.endsBefore(14)).toBe(true);
    expect(budget.held).toBe(3);
    // Refilled past the run: what was left is dropped and given back to the budget first.
    a.fill(14, 4, (n) => `a${n}`);
    expect(a.take(12)).toBeUndefined();
    expect(a.left).toBe(4);
    expect(budget.held).toBe(5);
    b.clear();
    a.clear();
    expect(budget.held).toBe(0);
    expect(a.take(14)).toBeUndefined();
  });
});
