/** The vocabulary of the harness: scenarios, the contenders in them, and what a run measures. */

export interface Settings {
  readonly quick: boolean;
  /** Runs per contender; the median is reported. */
  readonly runs: number;
  readonly warmupMs: number;
  /** Measured window after warm-up. */
  readonly durationMs: number;
  /** The receiver gives up waiting for the rest after this long without a delivery. */
  readonly idleMs: number;
  readonly connectIterations: number;
  readonly connectWarmup: number;
  readonly fanoutSubscribers: number;
}

export const FULL: Settings = {
  quick: false,
  runs: 3,
  warmupMs: 1000,
  durationMs: 3000,
  idleMs: 5000,
  connectIterations: 60,
  connectWarmup: 5,
  fanoutSubscribers: 4,
};

export const QUICK: Settings = {
  quick: true,
  runs: 1,
  warmupMs: 300,
  durationMs: 700,
  idleMs: 3000,
  connectIterations: 15,
  connectWarmup: 3,
  fanoutSubscribers: 4,
};

/** What one run of one contender produced. A run that lost messages carries `loss` instead of a rate. */
export interface Measurement {
  readonly msgsPerSec?: number | undefined;
  readonly p50us?: number | undefined;
  readonly p99us?: number | undefined;
  readonly loss?: { readonly sent: number; readonly received: number; readonly bad: number };
}

/** A system in a scenario: a netmachine subject or a peer. */
export interface Contender {
  /** `netmachine`, or the peer's name as in BENCHMARKS.md. */
  readonly system: string;
  /** netmachine's transport for this scenario. */
  readonly transport?: string;
  /** Why this contender cannot run (e.g. a package not built yet); undefined when it can. */
  missing?(): Promise<string | undefined>;
  measure(settings: Settings): Promise<Measurement>;
}

/** A target from the issue: netmachine ≥ ratio × peer (throughput) or ≤ ratio × peer (latency). */
export interface Bar {
  readonly peer: string;
  readonly ratio: number;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** `throughput` compares msgsPerSec (higher is better); `latency` compares p50 (lower is better). */
  readonly metric: 'throughput' | 'latency';
  /** Unit used when printing latencies. */
  readonly latencyUnit?: 'us' | 'ms';
  /** Unit of a throughput figure when it is not messages (the JSON field stays `msgsPerSec`). */
  readonly throughputUnit?: string;
  readonly bars: readonly Bar[];
  readonly subjects: readonly Contender[];
  readonly peers: readonly Contender[];
}
