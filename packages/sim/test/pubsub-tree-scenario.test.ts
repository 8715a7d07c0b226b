import { describe, expect, it } from 'vitest';
import { pubsubTreeSummary, runPubsubTreeScenario } from '../src/index.js';

describe('pubsub-tree scenario', () => {
  const small = { nodes: 200, warmupEvents: 20, measuredEvents: 40, crashEvents: 20, repairEvents: 20 };

  it('delivers every event to every node over a settled tree with few duplicates, and recovers from a crash', () => {
    const summary = pubsubTreeSummary(runPubsubTreeScenario({ ...small, seed: 3 }));
    expect(summary.nodes).toBe(200);
    expect(summary.events).toBe(40);
    expect(summary.delivery).toBe(1);
    // Settled: payload copies per node per event close to one (a flood would be near the mean degree).
    expect(summary.rmr).toBeLessThanOrEqual(0.1);
    expect(summary.maxHops).toBeLessThanOrEqual(2 * Math.log2(200));
    expect(summary.p50Hops).toBeGreaterThan(0);
    expect(summary.survivors).toBe(140);
    expect(summary.deliveryAfterCrash).toBeGreaterThanOrEqual(0.99);
    expect(summary.deliveryAfterRepair).toBe(1);
  });

  it('is deterministic: the same seed gives the same figures and trace hash, another seed another hash', () => {
    const run = (seed: number) => pubsubTreeSummary(runPubsubTreeScenario({ ...small, nodes: 120, seed }));
    const a = run(9);
    expect(run(9)).toEqual(a);
    expect(run(10).traceHash).not.toBe(a.traceHash);
  });
});
