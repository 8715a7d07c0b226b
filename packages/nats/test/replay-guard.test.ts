import { describe, expect, it } from 'vitest';
import {
  NonceCache,
  newSessionId,
  SEQUENCE_WINDOW,
  SequenceWindow,
  sessionStart,
} from '../src/replay-guard.js';

describe('SequenceWindow', () => {
  it('accepts each number once, tolerates reordering within the window, refuses older ones', () => {
    const window = new SequenceWindow();
    expect(window.accept(5)).toBe(true);
    expect(window.accept(5)).toBe(false);
    expect(window.accept(3)).toBe(true);
    expect(window.accept(3)).toBe(false);
    for (let seq = 6; seq < 6 + 3 * SEQUENCE_WINDOW; seq++) expect(window.accept(seq)).toBe(true);
    expect(window.accept(6)).toBe(false);
    expect(window.accept(2 * SEQUENCE_WINDOW + 100)).toBe(false);
  });
});

describe('NonceCache', () => {
  it('refuses a nonce seen within the window, forgets it after, and refuses when full', () => {
    const cache = new NonceCache(1000, 2);
    const a = new Uint8Array([1]);
    const b = new Uint8Array([2]);
    expect(cache.add(a, 0)).toBe('fresh');
    expect(cache.add(a, 500)).toBe('replayed');
    expect(cache.add(b, 600)).toBe('fresh');
    expect(cache.add(new Uint8Array([3]), 700)).toBe('full');
    expect(cache.add(a, 1000)).toBe('fresh');
    expect(cache.size).toBe(2);
  });
});

describe('session ids', () => {
  it('order by start time, and anything else reads as the oldest', () => {
    const older = newSessionId(1_000);
    const newer = newSessionId(2_000);
    expect(sessionStart(newer)).toBeGreaterThan(sessionStart(older));
    expect(sessionStart(older)).toBe(1_000);
    expect(sessionStart('garbage')).toBe(-1);
    expect(sessionStart('zzzzzzzzzzzzzzzzzzzzzz.x')).toBe(-1);
  });
});
