import type { NodeId } from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import { ForwardGate } from '../src/tree/forward-gate.js';

/** The transport's queue depths, set by the test (the gate only reads two numbers). */
function queues(depths: Record<string, number>) {
  return {
    get queued() {
      return Object.values(depths).reduce((a, b) => a + b, 0);
    },
    queuedTo: (node: NodeId) => depths[node] ?? 0,
  };
}

describe('ForwardGate', () => {
  it('holds while a neighbour’s queue is at high, until every one is down to low', async () => {
    const depths: Record<string, number> = { a: 0, b: 0 };
    const gate = new ForwardGate({
      queues: queues(depths),
      neighbours: () => ['a', 'b'] as NodeId[],
      high: 10,
      low: 2,
      slowAfterMs: 60_000,
      pollMs: 1,
    });
    depths.a = 9;
    expect(gate.hold()).toBeUndefined();
    depths.a = 10;
    let released = false;
    const held = gate.hold()?.then(() => {
      released = true;
    });
    expect(held).toBeDefined();
    expect(gate.hold()).toBeDefined(); // the same wait
    depths.a = 3; // below high, above low: still held
    expect(gate.counters.holds).toBe(1);
    depths.a = 2;
    await held;
    expect(released).toBe(true);
    expect(gate.hold()).toBeUndefined();
  });

  it('passes over a neighbour backed up for slowAfterMs, and counts it once', async () => {
    const depths: Record<string, number> = { a: 50, b: 0 };
    const gate = new ForwardGate({
      queues: queues(depths),
      neighbours: () => ['a', 'b'] as NodeId[],
      high: 10,
      low: 2,
      slowAfterMs: 20,
      pollMs: 1,
    });
    await gate.hold(); // resolves although `a` never drains: it became slow
    expect(gate.counters.slowNeighbours).toBe(1);
    expect(gate.hold()).toBeUndefined(); // still slow: not waited for
    expect(gate.counters).toEqual({ holds: 1, slowNeighbours: 1 });
    depths.a = 0;
    expect(gate.hold()).toBeUndefined(); // drained: forgiven
    depths.a = 50;
    expect(gate.hold()).toBeDefined(); // backed up again: held again
  });
});
