// Runs the overlay scenario at 10,000 nodes for seeds 1..20 (--first, --seeds, --nodes) and checks the bars:
// connected = 1 after joining, connectedAfterCrash ≥ 0.99 after half the nodes crash.
// Not part of the default test suite (it takes minutes): `pnpm --filter @netmachine/sim check:seeds`.
import { parseArgs } from 'node:util';
import { overlaySummary, runOverlayScenario } from '../src/scenarios/overlay.js';

const { values } = parseArgs({
  options: { nodes: { type: 'string' }, seeds: { type: 'string' }, first: { type: 'string' } },
});
const nodes = Number(values.nodes ?? 10_000);
const seeds = Number(values.seeds ?? 20);
const first = Number(values.first ?? 1);
const rows: Record<string, unknown>[] = [];
let failures = 0;
process.stdout.write(
  '| seed | connected | activeView min–max | after 50% crash | after 80% crash | messages | msgs/s (wall) | msgs/s (cpu) | wall s | trace hash |\n',
);
process.stdout.write('|---|---|---|---|---|---|---|---|---|---|\n');
for (let seed = first; seed < first + seeds; seed++) {
  const summary = overlaySummary(runOverlayScenario({ nodes, seed, crashFractions: [0.5, 0.8] }));
  const ok = summary.connected === 1 && (summary.connectedAfterCrash as number) >= 0.99;
  if (!ok) failures++;
  rows.push(summary);
  process.stdout.write(
    `| ${seed} | ${summary.connected} | ${summary.activeViewMin}–${summary.activeViewMax} | ${summary.connectedAfterCrash} | ${summary.connectedAfterCrash80} | ${summary.simMessages} | ${summary.simMessagesPerSec} | ${summary.simMessagesPerCpuSec} | ${summary.wallSeconds} | ${summary.traceHash}${ok ? '' : ' FAIL'} |\n`,
  );
}
const min = (key: string) => Math.min(...rows.map((row) => row[key] as number));
const max = (key: string) => Math.max(...rows.map((row) => row[key] as number));
process.stdout.write(
  `${JSON.stringify({
    nodes,
    seeds: `${first}..${first + seeds - 1}`,
    failures,
    connectedMin: min('connected'),
    connectedAfterCrashMin: min('connectedAfterCrash'),
    connectedAfterCrash80Min: min('connectedAfterCrash80'),
    wallSecondsMax: max('wallSeconds'),
    simMessagesPerSecMin: min('simMessagesPerSec'),
    simMessagesPerSecMax: max('simMessagesPerSec'),
    simMessagesPerCpuSecMin: min('simMessagesPerCpuSec'),
  })}\n`,
);
process.exitCode = failures === 0 ? 0 : 1;
