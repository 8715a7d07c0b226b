import { describe, expect, it } from 'vitest';
import { overlaySummary, runOverlayScenario } from '../src/index.js';

describe('overlay scenario', () => {
  it('is deterministic: the same seed gives the same trace hash, another seed a different one', () => {
    const run = (seed: number) =>
      overlaySummary(runOverlayScenario({ nodes: 300, seed, crashFractions: [0.5], periodsAfterCrash: 2 }));
    const a = run(7);
    const b = run(7);
    const c = run(8);
    expect(a.traceHash).toMatch(/^[0-9a-f]{16}$/);
    expect(b.traceHash).toBe(a.traceHash);
    expect(b.simMessages).toBe(a.simMessages);
    expect(c.traceHash).not.toBe(a.traceHash);
  });

  it('joins 1000 nodes through one seed into one connected overlay with bounded views', () => {
    const summary = overlaySummary(runOverlayScenario({ nodes: 1000, seed: 3, crashFractions: [0.5] }));
    expect(summary.connected).toBe(1);
    expect(summary.components).toBe(1);
    expect(summary.activeViewMin).toBeGreaterThanOrEqual(1);
    expect(summary.activeViewMax).toBeLessThanOrEqual(6); // capacity, and one beyond it for a low-priority request
    expect(summary.passiveViewMax).toBeLessThanOrEqual(30);
    // Half the nodes crash at once; ten shuffle periods later the survivors are one overlay again.
    expect(summary.survivors).toBe(500);
    expect(summary.connectedAfterCrash).toBeGreaterThanOrEqual(0.99);
    expect(summary.activeViewMeanAfterCrash).toBeGreaterThan(3);
  });

  it('runs every crash fraction from an identical join', () => {
    const result = runOverlayScenario({
      nodes: 300,
      seed: 5,
      crashFractions: [0.5, 0.8],
      periodsAfterCrash: 3,
    });
    const [half, most] = result.runs;
    expect(half?.joinTraceHash).toBe(most?.joinTraceHash);
    expect(half?.traceHash).not.toBe(most?.traceHash);
    expect(most?.afterCrash.nodes).toBe(60);
    // The time series covers joining and the crash, and shows the crash.
    expect(half?.series.some((s) => s.alive === 0.5)).toBe(true);
    expect(half?.series.some((s) => s.alive === 1)).toBe(true);
  });

  it('stays connected under churn: nodes crash and new ones join through random members', () => {
    const result = runOverlayScenario({
      nodes: 400,
      seed: 13,
      crashFractions: [0],
      periodsAfterCrash: 1,
      churn: { perSecond: 4, duration: 30_000 },
    });
    const run = result.runs[0];
    expect(run?.afterChurn?.nodes).toBe(400); // one crash and one join per step
    expect(run?.afterChurn?.connected).toBeGreaterThanOrEqual(0.99);
    expect(run?.afterChurn?.activeViewMax).toBeLessThanOrEqual(6);
    expect(run?.afterChurn?.passiveViewMax).toBeLessThanOrEqual(30);
    expect(run?.afterChurn?.passiveViewMax).toBeGreaterThan(0);
  });

  it('survives flooding nodes: forged messages are counted as decode errors, never handed to a machine', () => {
    const result = runOverlayScenario({
      nodes: 400,
      seed: 11,
      crashFractions: [0],
      periodsAfterCrash: 2,
      adversaries: { fraction: 0.05, kind: 'flood' },
    });
    const run = result.runs[0];
    expect(run?.decodeErrors).toBeGreaterThan(0);
    expect(run?.afterCrash.connected).toBeGreaterThanOrEqual(0.99);
  });

  it('keeps honest nodes connected around black-hole nodes', () => {
    const result = runOverlayScenario({
      nodes: 400,
      seed: 12,
      crashFractions: [0],
      periodsAfterCrash: 3,
      adversaries: { fraction: 0.1, kind: 'drop' },
    });
    expect(result.runs[0]?.afterCrash.nodes).toBe(360);
    expect(result.runs[0]?.afterCrash.connected).toBeGreaterThanOrEqual(0.95);
  });
});
