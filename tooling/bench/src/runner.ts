import { missingRecord, type ResultRecord, type RunOutcome, summarise } from './results.js';
import {
  type Contender,
  formatRate,
  type Measurement,
  rateOf,
  type Scenario,
  type Settings,
} from './scenario.js';

export type Log = (line: string) => void;

function describe(scenario: Scenario, measurement: Measurement): string {
  if (measurement.loss !== undefined) {
    const { sent, received, bad } = measurement.loss;
    return `LOST ${sent - received} of ${sent} (bad ${bad})`;
  }
  if (scenario.metric !== 'latency') return formatRate(scenario, rateOf(scenario, measurement));
  const unit = scenario.latencyUnit === 'ms' ? 1000 : 1;
  const suffix = scenario.latencyUnit === 'ms' ? 'ms' : 'µs';
  return `p50 ${((measurement.p50us ?? 0) / unit).toFixed(scenario.latencyUnit === 'ms' ? 2 : 0)} ${suffix}`;
}

/**
 * Runs every available contender of a scenario `settings.runs` times, interleaved (run 1 of each, then
 * run 2 of each, …) with the starting contender rotated, so drift in the machine's load falls on all
 * of them alike.
 */
export async function runScenario(scenario: Scenario, settings: Settings, log: Log): Promise<ResultRecord[]> {
  // BENCH_ONLY=netmachine (comma-separated systems) runs just those: for profiling one side.
  const only = process.env.BENCH_ONLY?.split(',').filter((name) => name !== '');
  const contenders = [...scenario.subjects, ...scenario.peers].filter(
    (contender) => only === undefined || only.includes(contender.system),
  );
  const missing = await Promise.all(contenders.map((contender) => contender.missing?.() ?? undefined));
  const active = contenders.filter((_, index) => missing[index] === undefined);
  for (const [index, contender] of contenders.entries()) {
    if (missing[index] !== undefined) log(`  ${contender.system}: not available (${missing[index]})`);
  }
  const outcomes = new Map<Contender, RunOutcome[]>(active.map((contender) => [contender, []]));
  for (let run = 0; run < settings.runs; run++) {
    const order = active.map((_, index) => active[(index + run) % active.length]!);
    for (const contender of order) {
      const label = `  ${contender.system.padEnd(14)} run ${run + 1}/${settings.runs}`;
      try {
        const measurement = await contender.measure(settings);
        outcomes.get(contender)!.push({ measurement });
        log(`${label}: ${describe(scenario, measurement)}`);
      } catch (error) {
        const err = error instanceof Error ? error : new Error(String(error));
        outcomes.get(contender)!.push({ error: err });
        log(`${label}: FAILED ${err.message}`);
      }
    }
  }
  return contenders.map((contender, index) =>
    missing[index] !== undefined
      ? missingRecord(scenario, contender, missing[index]!)
      : summarise(scenario, contender, outcomes.get(contender)!),
  );
}
