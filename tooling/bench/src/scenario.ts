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
  /** Subscriber processes of the multi-hop tree scenario. */
  readonly treeSubscribers: number;
}

export const FULL: Settings = {
  quick: false,
  runs: 3,
  // BENCHMARKS.md: leave ≥ 2 s of warm-up. A sequential request loop sends only 10–40 k requests in
  // 2 s, and the relayed path (three processes) was still compiling after 1 s: its p99 came out
  // twice what it is once warm.
  warmupMs: 2000,
  durationMs: 3000,
  idleMs: 5000,
  connectIterations: 60,
  connectWarmup: 5,
  fanoutSubscribers: 4,
  treeSubscribers: 8,
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
  treeSubscribers: 8,
};

/** What one run of one contender produced. A run that lost messages carries `loss` instead of a rate. */
export interface Measurement {
  readonly msgsPerSec?: number | undefined;
  /** Bulk scenarios: megabytes (10^6 bytes) per second. */
  readonly mbPerSec?: number | undefined;
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
  /**
   * `throughput` compares messages/s (`msgsPerSec`), `bandwidth` megabytes/s (`mbPerSec`): higher is
   * better; `latency` compares p50 (lower is better).
   */
  readonly metric: 'throughput' | 'bandwidth' | 'latency';
  /** Unit used when printing latencies. */
  readonly latencyUnit?: 'us' | 'ms';
  readonly bars: readonly Bar[];
  readonly subjects: readonly Contender[];
  readonly peers: readonly Contender[];
}

/** The rate a throughput or bandwidth scenario compares, from a measurement or a result record. */
export function rateOf(
  scenario: Pick<Scenario, 'metric'>,
  figures: { readonly msgsPerSec?: number | null | undefined; readonly mbPerSec?: number | null | undefined },
): number | undefined {
  const value = scenario.metric === 'bandwidth' ? figures.mbPerSec : figures.msgsPerSec;
  return value ?? undefined;
}

/** How a rate of the scenario is printed: `1,234 msgs/s` or `210 MB/s`. */
export function formatRate(scenario: Pick<Scenario, 'metric'>, value: number | undefined): string {
  const unit = scenario.metric === 'bandwidth' ? 'MB/s' : 'msgs/s';
  return `${Math.round(value ?? 0).toLocaleString('en-US')} ${unit}`;
}
