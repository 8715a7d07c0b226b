import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { type Ratio, type ResultRecord, ratios } from './results.js';
import { formatRate, rateOf, type Scenario, type Settings } from './scenario.js';

export interface ScenarioOutcome {
  readonly scenario: Scenario;
  readonly records: readonly ResultRecord[];
}

export interface BenchReport {
  readonly date: string;
  readonly node: string;
  readonly cpus: number;
  readonly quick: boolean;
  readonly machine: {
    readonly cpuModel: string;
    readonly totalMemMB: number;
    readonly platform: string;
    readonly arch: string;
    readonly loadavg: readonly number[];
  };
  readonly settings: Settings;
  readonly results: readonly ResultRecord[];
  readonly ratios: readonly Ratio[];
  readonly micro?: unknown;
}

export function buildReport(
  outcomes: readonly ScenarioOutcome[],
  settings: Settings,
  loadBefore: readonly number[],
  micro?: unknown,
): BenchReport {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    quick: settings.quick,
    machine: {
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
      totalMemMB: Math.round(totalmem() / 2 ** 20),
      platform: process.platform,
      arch: process.arch,
      loadavg: loadBefore.map((value) => Math.round(value * 100) / 100),
    },
    settings,
    results: outcomes.flatMap((outcome) => outcome.records),
    ratios: outcomes.flatMap((outcome) => ratios(outcome.scenario, outcome.records)),
    ...(micro !== undefined ? { micro } : {}),
  };
}

export async function writeReport(path: string, report: BenchReport): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
}

export function currentLoad(): number[] {
  return loadavg();
}

const thousands = (value: number): string => Math.round(value).toLocaleString('en-US');

function figure(scenario: Scenario, record: ResultRecord): string {
  if (record.status === 'missing') return `not available (${record.reason})`;
  if (record.status === 'failed') return `FAILED: ${record.reason}`;
  if (record.status === 'lost') {
    const loss = record.loss!;
    return `LOST ${thousands(loss.sent - loss.received)} of ${thousands(loss.sent)} msgs, ${loss.bad} bad (${loss.runs} run(s))`;
  }
  if (scenario.metric !== 'latency') return formatRate(scenario, rateOf(scenario, record));
  const ms = scenario.latencyUnit === 'ms';
  const show = (us: number | null): string =>
    us === null ? '-' : ms ? (us / 1000).toFixed(2) : us.toFixed(0);
  return `p50 ${show(record.p50us)} ${ms ? 'ms' : 'µs'}  p99 ${show(record.p99us)}`;
}

/** The table printed at the end: each contender's median and netmachine's ratio to each peer. */
export function formatTable(outcomes: readonly ScenarioOutcome[]): string {
  const lines: string[] = [];
  const header = `${'scenario'.padEnd(16)}${'system'.padEnd(16)}${'median'.padEnd(34)}ratio (bar)`;
  lines.push(header, '-'.repeat(header.length + 8));
  for (const { scenario, records } of outcomes) {
    const scenarioRatios = ratios(scenario, records);
    for (const record of records) {
      const name = record.system + (record.transport !== undefined ? `/${record.transport}` : '');
      const ratio = scenarioRatios.find((candidate) => candidate.peer === record.system);
      let ratioText = '';
      if (ratio !== undefined) {
        const sign = scenario.metric === 'latency' ? '≤' : '≥';
        const bar =
          ratio.bar !== null
            ? ` (bar ${sign}${ratio.bar}: ${ratio.met === null ? '?' : ratio.met ? 'met' : 'not met'})`
            : '';
        ratioText = ratio.ratio === null ? `-${bar}` : `${ratio.ratio.toFixed(2)}×${bar}`;
      }
      const scenarioCell = record === records[0] ? scenario.name : '';
      lines.push(
        `${scenarioCell.padEnd(16)}${name.padEnd(16)}${figure(scenario, record).padEnd(34)}${ratioText}`,
      );
    }
  }
  lines.push(
    '',
    'ratio = netmachine ÷ peer: for msgs/s and MB/s higher is better, for latency (p50) lower is better.',
  );
  return lines.join('\n');
}
