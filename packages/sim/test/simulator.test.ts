import { type HyParView, hyparview } from '@netmachine/overlay';
import { describe, expect, it } from 'vitest';
import {
  EventQueue,
  linePlot,
  measureGraph,
  type OverlaySim,
  Simulator,
  TraceHash,
  table,
} from '../src/index.js';

function overlay(nodes: number, seed: number, network = {}): OverlaySim {
  const sim: OverlaySim = new Simulator({ protocol: hyparview(), seed, network });
  sim.addNode();
  for (let i = 1; i < nodes; i++) {
    sim.at(i * 10, () => sim.command(sim.addNode(), { type: 'join', contact: 'n0' }));
  }
  sim.runUntil(nodes * 10 + 2_000);
  return sim;
}

describe('EventQueue', () => {
  it('pops by time, and in scheduling order for equal times', () => {
    const queue = new EventQueue<{ time: number; seq: number }>();
    const times = [5, 1, 5, 3, 1, 5, 0];
    for (const [seq, time] of times.entries()) queue.push({ time, seq });
    const out: string[] = [];
    for (let e = queue.pop(); e !== undefined; e = queue.pop()) out.push(`${e.time}:${e.seq}`);
    expect(out).toEqual(['0:6', '1:1', '1:4', '3:3', '5:0', '5:2', '5:5']);
  });
});

describe('TraceHash', () => {
  it('tells apart values that differ anywhere', () => {
    const hash = (v: unknown) => {
      const h = new TraceHash();
      h.value(v);
      return h.hex();
    };
    expect(hash({ a: [1, 'x'] })).toBe(hash({ a: [1, 'x'] }));
    expect(hash({ a: [1, 'x'] })).not.toBe(hash({ a: [1, 'y'] }));
    expect(hash({ a: 1 })).not.toBe(hash({ b: 1 }));
    expect(hash(1)).not.toBe(hash('1'));
    expect(hash(0.5)).not.toBe(hash(0.25));
  });
});

describe('Simulator', () => {
  it('crashed nodes disappear from every survivor’s active view', () => {
    const sim = overlay(300, 21);
    const crashed = new Set(Array.from({ length: 150 }, (_, i) => i * 2));
    sim.crash(crashed);
    sim.runFor(30_000);
    for (let node = 0; node < sim.nodeCount; node++) {
      if (!sim.isAlive(node)) continue;
      for (const peer of sim.machine(node).activeView()) {
        expect(crashed.has(sim.indexOf(peer) as number)).toBe(false);
      }
    }
    // 300 nodes joined in 3 s have small passive views (no shuffle yet): most, not all, survivors reconnect.
    expect(measureGraph(sim).connected).toBeGreaterThanOrEqual(0.95);
  });

  it('drops messages across a partition, and each side stays connected', () => {
    const sim = overlay(300, 22);
    const before = sim.stats.dropped.partition;
    sim.partition((node) => node % 2);
    sim.runFor(30_000);
    expect(sim.stats.dropped.partition).toBeGreaterThan(before);
    for (let node = 0; node < sim.nodeCount; node++) {
      const machine: HyParView = sim.machine(node);
      for (const peer of machine.activeView()) expect((sim.indexOf(peer) as number) % 2).toBe(node % 2);
    }
    expect(measureGraph(sim).components).toBeGreaterThanOrEqual(2);
  });

  it('loses messages at the configured rate and still builds an overlay', () => {
    const sim = overlay(300, 23, { loss: 0.05 });
    const lost = sim.stats.dropped.loss / sim.stats.sent;
    expect(lost).toBeGreaterThan(0.03);
    expect(lost).toBeLessThan(0.07);
    sim.runFor(20_000); // lost Joins are sent again after the join timeout
    expect(measureGraph(sim).connected).toBeGreaterThanOrEqual(0.99);
  });
});

describe('reports', () => {
  it('formats a table and draws an SVG plot', () => {
    expect(
      table([
        ['nodes', 10],
        ['connected', 0.5],
      ]),
    ).toBe('nodes      10\nconnected  0.5000');
    const svg = linePlot(
      [
        {
          name: 'a<b',
          color: 'red',
          points: [
            [0, 0],
            [1, 1],
          ],
        },
      ],
      {
        title: 't',
        xLabel: 'x',
        yLabel: 'y',
        markers: [{ x: 0.5, label: 'crash' }],
      },
    );
    expect(svg).toMatch(/^<svg /);
    expect(svg).toContain('<title>t</title>');
    expect(svg).toContain('<path d="M');
    expect(svg).toContain('a&lt;b');
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  });
});
