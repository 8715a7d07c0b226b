import type { HyParViewConfig } from '@netmachine/overlay';
import { runOverlayScenario } from './overlay.js';

// The split sweep: many seeds of the overlay scenario per case (nodes, active-view capacity, time between
// joins, churn), counting the runs whose active-view graph among the live nodes is split into more than
// one component — at the end of joining (or of the churn) plus `settle`, and again `lastingPeriods`
// shuffle periods later. A split that survives the second measurement is one HyParView does not repair.

export interface OverlaySweepCase {
  readonly nodes: number;
  readonly capacity: number;
  /** Virtual time between two joins (ms); 0 joins every node at once. */
  readonly joinInterval: number;
  /** Crashes (each with a join) per second for `churnSeconds` after joining; 0 for none. */
  readonly churnPerSecond?: number;
  readonly churnSeconds?: number;
}

export interface OverlaySweepOptions {
  readonly cases: readonly OverlaySweepCase[];
  /** Seeds `firstSeed .. firstSeed + seeds − 1`. */
  readonly seeds: number;
  readonly firstSeed?: number;
  /** Virtual time after the last join (or the churn) before the first measurement (ms). */
  readonly settle?: number;
  /** Shuffle periods between the first and the second measurement. */
  readonly lastingPeriods?: number;
  /** HyParView settings for every case (the capacity comes from the case). */
  readonly hyparview?: Partial<HyParViewConfig>;
  /** How many split seeds each row lists. */
  readonly listSeeds?: number;
  /** Called after every case. */
  readonly onRow?: (row: OverlaySweepRow) => void;
}

export interface OverlaySweepRow extends Required<OverlaySweepCase> {
  readonly runs: number;
  /** Runs split at the first measurement. */
  readonly splitAtEnd: number;
  /** Runs still split at the second. */
  readonly splitLasting: number;
  /** Runs still split at the second in which some component is stranded (see `strandedComponents`). */
  readonly splitStranded: number;
  /** The first split seeds (at the second measurement). */
  readonly lastingSeeds: readonly number[];
  /** Smallest fraction of live nodes in the largest component, over the runs (second measurement). */
  readonly worstConnected: number;
  /** Largest active view seen at the second measurement, over the runs. */
  readonly activeViewMax: number;
  /** Messages delivered, summed over the runs (what the repairs cost). */
  readonly messages: number;
  /** Bridges asked for, summed over the runs (by the nodes alive at the end). */
  readonly bridges: number;
}

export function sweepOverlaySplits(options: OverlaySweepOptions): OverlaySweepRow[] {
  const firstSeed = options.firstSeed ?? 1;
  const settle = options.settle ?? 30_000;
  const lastingPeriods = options.lastingPeriods ?? 30;
  const listSeeds = options.listSeeds ?? 8;
  const rows: OverlaySweepRow[] = [];
  for (const c of options.cases) {
    const churnPerSecond = c.churnPerSecond ?? 0;
    const churnSeconds = c.churnSeconds ?? 60;
    let splitAtEnd = 0;
    let splitLasting = 0;
    let splitStranded = 0;
    let worstConnected = 1;
    let activeViewMax = 0;
    let messages = 0;
    let bridges = 0;
    const lastingSeeds: number[] = [];
    for (let seed = firstSeed; seed < firstSeed + options.seeds; seed++) {
      const result = runOverlayScenario({
        nodes: c.nodes,
        seed,
        joinInterval: c.joinInterval,
        settle,
        crashFractions: [0],
        periodsAfterCrash: lastingPeriods,
        hyparview: { ...options.hyparview, activeViewCapacity: c.capacity },
        ...(churnPerSecond > 0
          ? { churn: { perSecond: churnPerSecond, duration: churnSeconds * 1000 } }
          : {}),
      });
      const run = result.runs[0];
      if (run === undefined) continue;
      const atEnd = run.afterChurn ?? run.joined;
      if (atEnd.components > 1) splitAtEnd++;
      if (run.afterCrash.components > 1) {
        splitLasting++;
        if (run.afterCrash.strandedComponents > 0) splitStranded++;
        if (lastingSeeds.length < listSeeds) lastingSeeds.push(seed);
      }
      worstConnected = Math.min(worstConnected, run.afterCrash.connected);
      activeViewMax = Math.max(activeViewMax, run.afterCrash.activeViewMax);
      messages += run.delivered;
      bridges += run.afterCrash.bridges;
    }
    const row: OverlaySweepRow = {
      nodes: c.nodes,
      capacity: c.capacity,
      joinInterval: c.joinInterval,
      churnPerSecond,
      churnSeconds: churnPerSecond > 0 ? churnSeconds : 0,
      runs: options.seeds,
      splitAtEnd,
      splitLasting,
      splitStranded,
      lastingSeeds,
      worstConnected,
      activeViewMax,
      messages,
      bridges,
    };
    options.onRow?.(row);
    rows.push(row);
  }
  return rows;
}
