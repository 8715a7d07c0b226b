import { PerformanceObserver } from 'node:perf_hooks';

/**
 * What a worker reports when the parent probes it (`probe` → `probe`), at the start and the end of a
 * run's measured window: its garbage collections so far and whatever the role and the system under
 * test registered (deliveries counted, protocol and transport counters). The parent subtracts the two
 * reports, so every figure it prints covers the window only.
 */

/** What the parent asks with a probe: `times`, wall-clock moments it wants counts at (when it read /proc). */
export interface ProbeRequest {
  readonly times?: readonly number[];
}

export type ProbeSource = (request: ProbeRequest) => Record<string, unknown>;

const sources = new Map<string, ProbeSource>();
const gc = { count: 0, ms: 0 };
let observer: PerformanceObserver | undefined;

/** Starts counting garbage collections (once per process; cheap: one entry per collection). */
export function watchGc(): void {
  if (observer !== undefined) return;
  observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gc.count++;
      gc.ms += entry.duration;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
}

/** Adds (or replaces) what `name` reports in every probe. */
export function setProbe(name: string, source: ProbeSource): void {
  sources.set(name, source);
}

export interface ProbeReport {
  /** Wall clock (ms since the Unix epoch) when the report was made: comparable across processes. */
  readonly at: number;
  readonly gc: { readonly count: number; readonly ms: number };
  readonly [name: string]: unknown;
}

export function probeReport(request: ProbeRequest = {}): ProbeReport {
  const report: Record<string, unknown> = {};
  for (const [name, source] of sources) {
    try {
      report[name] = source(request);
    } catch (error) {
      report[name] = { error: (error as Error).message };
    }
  }
  return { ...report, at: performance.timeOrigin + performance.now(), gc: { ...gc } };
}
