import { readFile } from 'node:fs/promises';
import type { BenchReport } from './report.js';
import type { ResultRecord } from './results.js';
import { formatRate, rateOf, type Scenario } from './scenario.js';

/**
 * The results table of bench/README.md, made from a report file, so the table in the README is always
 * a copy of a recorded run: `pnpm bench -- --markdown bench/results/latest.json`.
 */
export async function markdownFromFile(path: string, scenarios: readonly Scenario[]): Promise<string> {
  const report = JSON.parse(await readFile(path, 'utf8')) as BenchReport;
  return formatMarkdown(report, scenarios);
}

const thousands = (value: number): string => Math.round(value).toLocaleString('en-US');

function cell(scenario: Scenario | undefined, record: ResultRecord): string {
  if (record.status === 'missing') return `not available (${record.reason})`;
  if (record.status === 'failed') return `failed: ${record.reason}`;
  if (record.status === 'lost') {
    const loss = record.loss!;
    return `**lost** ${thousands(loss.sent - loss.received)} of ${thousands(loss.sent)} (${loss.runs} run(s))`;
  }
  if (scenario?.metric === 'latency') {
    const ms = scenario.latencyUnit === 'ms';
    const show = (us: number | null): string =>
      us === null ? '-' : ms ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(0)} µs`;
    return `p50 ${show(record.p50us)}, p99 ${show(record.p99us)}`;
  }
  const metric = scenario ?? { metric: 'throughput' as const };
  return formatRate(metric, rateOf(metric, record));
}

export function formatMarkdown(report: BenchReport, scenarios: readonly Scenario[]): string {
  const lines = [
    `Run of ${report.date.slice(0, 16).replace('T', ' ')} UTC, Node ${report.node}, ${report.cpus} CPUs ` +
      `(${report.machine.cpuModel}), load average before the run ${report.machine.loadavg.join(' / ')}; ` +
      `${report.settings.runs} run(s) per contender, medians${report.quick ? ' (quick pass)' : ''}.`,
    '',
    '| scenario | system | median | netmachine ÷ peer | bar |',
    '|---|---|---|---|---|',
  ];
  for (const record of report.results) {
    const scenario = scenarios.find((candidate) => candidate.name === record.scenario);
    const ratio = report.ratios.find(
      (candidate) => candidate.scenario === record.scenario && candidate.peer === record.system,
    );
    const sign = scenario?.metric === 'latency' ? '≤' : '≥';
    const ratioText = ratio === undefined ? '' : ratio.ratio === null ? '-' : `${ratio.ratio.toFixed(2)}×`;
    const verdict = ratio?.met == null ? '' : ratio.met ? ' (met)' : ' (not met)';
    const barText = ratio?.bar == null ? '' : `${sign} ${ratio.bar}×${verdict}`;
    const system = record.system + (record.transport !== undefined ? `/${record.transport}` : '');
    lines.push(`| ${record.scenario} | ${system} | ${cell(scenario, record)} | ${ratioText} | ${barText} |`);
  }
  return lines.join('\n');
}
