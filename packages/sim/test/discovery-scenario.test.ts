import { describe, expect, it } from 'vitest';
import { runDiscoveryScenario } from '../src/index.js';

// 500 nodes in 30 domains: the same mean domain size (about 17 nodes) as 600 domains at 10,000 nodes.
const SMALL = { nodes: 500, domains: 30, periods: 40, lookups: 300 } as const;

describe('discovery scenario', () => {
  it('is deterministic: the same seed gives the same figures and trace, another seed another trace', () => {
    const a = runDiscoveryScenario({ ...SMALL, nodes: 200, lookups: 50, periods: 20, seed: 7 });
    const b = runDiscoveryScenario({ ...SMALL, nodes: 200, lookups: 50, periods: 20, seed: 7 });
    const c = runDiscoveryScenario({ ...SMALL, nodes: 200, lookups: 50, periods: 20, seed: 8 });
    expect(b).toEqual(a);
    expect(a.traceHash).toMatch(/^[0-9a-f]{16}$/);
    expect(c.traceHash).not.toBe(a.traceHash);
  }, 120_000);

  it('holds its targets at 500 nodes under the colluders’ attack, while plain gossip is eclipsed', () => {
    const s = runDiscoveryScenario({ ...SMALL, seed: 3 });
    expect(s.byzantineFraction).toBe(0.1);
    expect(s.byzantineShareInSamples).toBeLessThanOrEqual(0.15);
    expect(s.byzantineShareBaseline).toBeGreaterThan(0.5);
    expect(s.clusteredFraction).toBeGreaterThanOrEqual(0.9);
    expect(s.lookups).toBe(300);
    expect(s.lookupSuccess).toBeGreaterThanOrEqual(0.99);
    expect(s.lookupHopsP99).toBeLessThanOrEqual(2 * Math.log2(500));
    expect(s.optedOutLeaked).toBe(0);
    expect(s.optedOut).toBeGreaterThan(0);
    // the attack happened and was refused: forged entries were sent and rejected
    expect(s.forgedEntriesRejected).toBeGreaterThan(0);
  }, 180_000);
});
