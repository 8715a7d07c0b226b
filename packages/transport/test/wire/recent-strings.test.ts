import { describe, expect, it } from 'vitest';
import { RecentStrings } from '../../src/wire/plain-reader.js';

const bytes = (s: string) => Buffer.from(s, 'latin1');

describe('RecentStrings', () => {
  it('keeps two names that hash alike, so neither evicts the other', () => {
    const cache = new RecentStrings(16);
    const tx = bytes('bench-tx-0');
    const rx = bytes('bench-rx-0');
    const keptTx = cache.keep(tx, 0, tx.length);
    const keptRx = cache.keep(rx, 0, rx.length);
    // The same string objects come back, in either order, many times over.
    for (let i = 0; i < 3; i++) {
      expect(cache.find(tx, 0, tx.length)).toBe(keptTx);
      expect(cache.find(rx, 0, rx.length)).toBe(keptRx);
    }
  });

  it('finds only byte-equal strings, and forgets the oldest of three that hash alike', () => {
    const cache = new RecentStrings(16);
    const names = ['bench-tx-0', 'bench-rx-0', 'bench-qx-0'].map(bytes);
    for (const b of names) cache.keep(b, 0, b.length);
    const [oldest, middle, newest] = names as [Buffer, Buffer, Buffer];
    expect(cache.find(oldest, 0, oldest.length)).toBeUndefined();
    expect(cache.find(middle, 0, middle.length)).toBe('bench-rx-0');
    expect(cache.find(newest, 0, newest.length)).toBe('bench-qx-0');
    const other = bytes('bench-sx-0');
    expect(cache.find(other, 0, other.length)).toBeUndefined();
    // Read from the middle of a larger buffer.
    const framed = Buffer.concat([bytes('xx'), newest, bytes('yy')]);
    expect(cache.find(framed, 2, newest.length)).toBe('bench-qx-0');
  });
});
