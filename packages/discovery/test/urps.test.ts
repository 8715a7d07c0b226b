import { seededRng } from '@netmachine/overlay';
import { describe, expect, it } from 'vitest';
import { CountMinSketch, UniformSampler } from '../src/index.js';

describe('count-min sketch', () => {
  it('never undercounts', () => {
    const sketch = new CountMinSketch(64, 4, seededRng(3));
    const truth = new Map<string, number>();
    const rng = seededRng(4);
    for (let i = 0; i < 5000; i++) {
      const id = `p${rng.int(300)}`;
      truth.set(id, (truth.get(id) ?? 0) + 1);
      sketch.add(id);
    }
    for (const [id, count] of truth) expect(sketch.estimate(id)).toBeGreaterThanOrEqual(count);
  });
});

describe('URPS', () => {
  it('samples a skewed stream close to uniformly over its distinct ids', () => {
    // 1000 ids; 50 "heavy" ids make up 80 % of the stream (each 80× as frequent as a light one).
    const sampler = new UniformSampler<null>(seededRng(5), { memory: 64 });
    const rng = seededRng(6);
    for (let i = 0; i < 100_000; i++) {
      const id = rng.next() < 0.8 ? `heavy${rng.int(50)}` : `light${rng.int(950)}`;
      sampler.offer(id, null);
    }
    let heavy = 0;
    const draws = 5000;
    for (let i = 0; i < draws; i++) if (sampler.sample()?.id.startsWith('heavy')) heavy++;
    // Their share of distinct ids is 5 %; of the stream 80 %.
    expect(heavy / draws).toBeLessThan(0.15);
    expect(sampler.size).toBe(64);
    expect(sampler.counters.offered).toBe(100_000);
  });

  it('keeps its memory bounded and forgets removed ids', () => {
    const sampler = new UniformSampler<number>(seededRng(7), { memory: 4 });
    for (let i = 0; i < 100; i++) sampler.offer(`p${i}`, i);
    expect(sampler.size).toBe(4);
    const [first] = [...sampler.entries()];
    sampler.remove(first?.id as string);
    expect(sampler.size).toBe(3);
    expect(sampler.has(first?.id as string)).toBe(false);
  });
});
