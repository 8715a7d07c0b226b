import './polyfills.js';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { markdownFromFile } from './markdown.js';
import { formatMemory, IDLE_PEERS, measureIdle, measureSoak } from './memory.js';
import { formatCoreMicroTable, type MicroResult, runCoreMicro } from './micro/core.js';
import { buildReport, currentLoad, formatTable, type ScenarioOutcome, writeReport } from './report.js';
import { runScenario } from './runner.js';
import { FULL, QUICK, type Settings } from './scenario.js';
import { scenarios } from './scenarios.js';

const USAGE = `pnpm bench [-- options]
  --quick            a short pass (~1-2 minutes): one run each, short windows
  --scenario NAME    run one scenario (repeatable): ${scenarios.map((scenario) => scenario.name).join(', ')}
  --runs N           runs per contender (median reported)
  --out PATH         where to write the JSON (default bench/results/latest.json; quick runs: quick.json)
  --no-micro         skip the core micro-benchmarks
  --markdown PATH    print the README results table of a recorded run (e.g. bench/results/latest.json)
  --memory           instead of the scenarios, the memory checks (idle connections, heap after a soak)
  --soak-seconds N   length of the memory soak (default 300; with --quick 20; 0 skips it)`;

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

async function runMemory(soakSeconds: number, out: string): Promise<void> {
  console.log(
    `netmachine memory checks: ${IDLE_PEERS} idle peers${soakSeconds > 0 ? `, then a ${soakSeconds} s soak` : ''}`,
  );
  const idle = await measureIdle();
  console.log(formatMemory(idle, undefined));
  const soak = soakSeconds > 0 ? await measureSoak(soakSeconds, (line) => console.log(line)) : undefined;
  if (soak !== undefined) console.log(formatMemory(undefined, soak));
  const report = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, idle, soak };
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${out}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((arg) => arg !== '--'),
    options: {
      quick: { type: 'boolean', default: false },
      scenario: { type: 'string', multiple: true },
      runs: { type: 'string' },
      out: { type: 'string' },
      'no-micro': { type: 'boolean', default: false },
      memory: { type: 'boolean', default: false },
      markdown: { type: 'string' },
      'soak-seconds': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.markdown !== undefined) {
    console.log(await markdownFromFile(values.markdown, scenarios));
    return;
  }
  if (values.memory) {
    const soakSeconds = Number.parseInt(values['soak-seconds'] ?? (values.quick ? '20' : '300'), 10);
    if (!(soakSeconds >= 0)) throw new Error('--soak-seconds must be a whole number (0 skips the soak)');
    const out = values.out ?? `${REPO_ROOT}bench/results/${values.quick ? 'memory-quick' : 'memory'}.json`;
    await runMemory(soakSeconds, out);
    return;
  }
  const base = values.quick ? QUICK : FULL;
  const settings: Settings =
    values.runs !== undefined ? { ...base, runs: Number.parseInt(values.runs, 10) } : base;
  if (!(settings.runs >= 1)) throw new Error(`--runs must be a positive integer`);
  const wanted = values.scenario ?? [];
  const unknown = wanted.filter((name) => !scenarios.some((scenario) => scenario.name === name));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}\n${USAGE}`);
  const selected =
    wanted.length > 0 ? scenarios.filter((scenario) => wanted.includes(scenario.name)) : scenarios;
  // A quick or partial pass must never overwrite the record of the latest full run.
  const partial = settings.quick || wanted.length > 0;
  const out =
    values.out ??
    `${REPO_ROOT}bench/results/${partial ? (settings.quick ? 'quick' : 'partial') : 'latest'}.json`;

  const loadBefore = currentLoad();
  console.log(
    `netmachine bench: ${selected.length} scenario(s), ${settings.runs} run(s) each${settings.quick ? ' (quick)' : ''}`,
  );
  const outcomes: ScenarioOutcome[] = [];
  for (const scenario of selected) {
    console.log(`\n${scenario.name}: ${scenario.description}`);
    const records = await runScenario(scenario, settings, (line) => console.log(line));
    outcomes.push({ scenario, records });
  }
  // The core micro-benchmarks run with the full pass (in this process: they measure CPU-bound code).
  let micro: MicroResult[] | { error: string } | undefined;
  if (!values['no-micro'] && wanted.length === 0) {
    console.log('\n@netmachine/core micro-benchmarks');
    try {
      const results = await runCoreMicro({ quick: settings.quick });
      console.log(formatCoreMicroTable(results));
      micro = results;
    } catch (error) {
      console.log(`  FAILED: ${(error as Error).message}`);
      micro = { error: (error as Error).message };
    }
  }
  console.log(`\n${formatTable(outcomes)}`);
  const report = buildReport(outcomes, settings, loadBefore, micro);
  await writeReport(out, report);
  console.log(`\nwrote ${out}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
