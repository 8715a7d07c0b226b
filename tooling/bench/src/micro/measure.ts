import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { median } from '../stats.js';

/** One micro-benchmark result: the median rate (per CPU-second) over `samples` timed samples. */
export interface MicroResult {
  readonly name: string;
  readonly opsPerSec: number;
  readonly samples: number;
}

export interface MeasureOptions {
  /** Untimed running before the samples, so the JIT and caches settle. */
  readonly warmupMs: number;
  /** Length of each timed sample. */
  readonly sampleMs: number;
  readonly samples: number;
}

export const FULL: MeasureOptions = { warmupMs: 500, sampleMs: 250, samples: 15 };
export const QUICK: MeasureOptions = { warmupMs: 100, sampleMs: 50, samples: 5 };

/** CPU time this process has used, in ms (user + system). */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * Runs `op` in batches until it has had `durationMs` of CPU time; returns operations and CPU ms.
 * CPU time, not wall time: on a shared machine the wall clock also counts the time other processes
 * held the core, which says nothing about this code. Batching keeps the clock reads out of the rate.
 */
function runFor(op: () => unknown, durationMs: number, batch: number): { ops: number; ms: number } {
  const start = cpuMs();
  const wallLimit = performance.now() + durationMs * 50;
  let ops = 0;
  let used = 0;
  let sink: unknown;
  do {
    for (let i = 0; i < batch; i++) sink = op();
    ops += batch;
    used = cpuMs() - start;
  } while (used < durationMs && performance.now() < wallLimit);
  keep(sink);
  return { ops, ms: Math.max(used, 0.001) };
}

let blackhole: unknown;
/** Stores a result where the optimiser cannot prove it unused. */
function keep(value: unknown): void {
  blackhole = value;
}
export function blackholeValue(): unknown {
  return blackhole;
}

/**
 * Measures `op`: warm-up, then `samples` timed samples; the median sample rate is reported, since on
 * a shared machine one slow sample says more about the neighbours than about the code.
 * `opsPerCall` counts how many logical operations one call performs (e.g. frames per batch).
 */
export async function measure(
  name: string,
  op: () => unknown,
  options: MeasureOptions,
  opsPerCall = 1,
): Promise<MicroResult> {
  // Pick a batch size that takes roughly a tenth of a millisecond, so slow operations still stop on time.
  const probe = runFor(op, Math.min(20, options.warmupMs), 1);
  const batch = Math.max(1, Math.min(4096, Math.round(probe.ops / probe.ms / 10)));
  runFor(op, options.warmupMs, batch);
  const rates: number[] = [];
  for (let i = 0; i < options.samples; i++) {
    await yieldToLoop();
    const { ops, ms } = runFor(op, options.sampleMs, batch);
    rates.push((ops * opsPerCall * 1000) / ms);
  }
  return { name, opsPerSec: median(rates) ?? 0, samples: rates.length };
}
