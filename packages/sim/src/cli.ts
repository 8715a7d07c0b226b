import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ScenarioUsageError } from './errors.js';
import { REPLAY_DRAWN_NODES, replayHtml } from './replay/replay-html.js';
import { linePlot, table } from './report.js';
import { runDiscoveryScenario } from './scenarios/discovery.js';
import { overlaySummary, runOverlayScenario } from './scenarios/overlay.js';
import { runOverlayStartup } from './scenarios/overlay-startup.js';
import { type OverlaySweepCase, sweepOverlaySplits } from './scenarios/overlay-sweep.js';
import { pubsubTreeCost, pubsubTreeSummary, runPubsubTreeScenario } from './scenarios/pubsub-tree.js';

// pnpm sim SCENARIO [--nodes N] [--seed S] [--json] [--svg FILE] [...]
// Prints a table of the figures; with --json the last line is one JSON object of them.

const USAGE = `usage: pnpm sim overlay [--nodes N] [--seed S] [--json] [--svg FILE] [--html FILE]
    [--crash F[,F...]] [--periods P] [--join-interval MS] [--loss P] [--drop F | --flood F]
    [--churn PER_SECOND [--churn-seconds S]]
       pnpm sim pubsub-tree [--nodes N] [--seed S] [--json] [--crash F] [--publishers P] [--events E]
    [--loss P] [--active-view N] [--join-via random|seed]
       pnpm sim discovery [--nodes N] [--seed S] [--json] [--periods P] [--domains D]
    [--byzantine F] [--attack-edges F] [--epsilon E] [--lookups L] [--no-baseline]
       pnpm sim overlay-sweep [--nodes N[,N...]] [--capacity C[,C...]] [--join-interval MS[,MS...]]
    [--churn PER_SECOND[,...] [--churn-seconds S]] [--seeds COUNT] [--seed FIRST] [--periods P] [--json]
       pnpm sim overlay-startup [--nodes N] [--capacity C] [--join-interval MS] [--latency MIN[,MAX]]
    [--cut MS] [--seeds COUNT] [--seed FIRST] [--startup on|off] [--json]`;

function numberOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new ScenarioUsageError(`--${name} must be a number, got ${value}`);
  return n;
}

function main(argv: string[]): void {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      nodes: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
      svg: { type: 'string' },
      html: { type: 'string' },
      crash: { type: 'string' },
      periods: { type: 'string' },
      'join-interval': { type: 'string' },
      loss: { type: 'string' },
      drop: { type: 'string' },
      churn: { type: 'string' },
      'churn-seconds': { type: 'string' },
      flood: { type: 'string' },
      publishers: { type: 'string' },
      events: { type: 'string' },
      'active-view': { type: 'string' },
      'join-via': { type: 'string' },
      domains: { type: 'string' },
      byzantine: { type: 'string' },
      'attack-edges': { type: 'string' },
      epsilon: { type: 'string' },
      lookups: { type: 'string' },
      'no-baseline': { type: 'boolean' },
      capacity: { type: 'string' },
      seeds: { type: 'string' },
      latency: { type: 'string' },
      startup: { type: 'string' },
      cut: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  const scenario = positionals[0];
  if (values.help || scenario === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  // The replay page and the plot are drawn from the overlay scenario's recorded frames; the other
  // scenarios record none, so asking for them there is an error rather than a flag silently ignored.
  if (scenario !== 'overlay' && (values.html !== undefined || values.svg !== undefined)) {
    throw new ScenarioUsageError(`--html and --svg are drawn for the overlay scenario only\n${USAGE}`);
  }
  if (scenario === 'pubsub-tree') {
    pubsubTree(values);
    return;
  }
  if (scenario === 'overlay-sweep') {
    overlaySweep(values);
    return;
  }
  if (scenario === 'overlay-startup') {
    overlayStartup(values);
    return;
  }
  if (scenario === 'discovery') {
    const started = performance.now();
    const nodes = numberOption(values.nodes, 'nodes', 1000);
    const summary = runDiscoveryScenario({
      nodes,
      seed: numberOption(values.seed, 'seed', 1),
      periods: numberOption(values.periods, 'periods', 60),
      domains: numberOption(values.domains, 'domains', 600),
      byzantineFraction: numberOption(values.byzantine, 'byzantine', 0.1),
      attackEdges: numberOption(values['attack-edges'], 'attack-edges', 0.02),
      lookups: numberOption(values.lookups, 'lookups', Math.min(2000, nodes)),
      blip: { epsilon: numberOption(values.epsilon, 'epsilon', 6) },
      baseline: values['no-baseline'] !== true,
    });
    const wall = Math.round((performance.now() - started) / 100) / 10;
    process.stdout.write(`${table([...Object.entries(summary), ['wallSeconds', wall]])}\n`);
    if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  if (scenario !== 'overlay') throw new ScenarioUsageError(`unknown scenario ${scenario}\n${USAGE}`);
  const crashFractions = (values.crash ?? '0.5,0.8').split(',').map((f) => numberOption(f, 'crash', 0.5));
  const drop = numberOption(values.drop, 'drop', 0);
  const flood = numberOption(values.flood, 'flood', 0);
  const result = runOverlayScenario({
    nodes: numberOption(values.nodes, 'nodes', 1000),
    seed: numberOption(values.seed, 'seed', 1),
    crashFractions,
    periodsAfterCrash: numberOption(values.periods, 'periods', 10),
    joinInterval: numberOption(values['join-interval'], 'join-interval', 10),
    network: { loss: numberOption(values.loss, 'loss', 0) },
    churn: {
      perSecond: numberOption(values.churn, 'churn', 0),
      duration: numberOption(values['churn-seconds'], 'churn-seconds', 60) * 1000,
    },
    ...(drop > 0 ? { adversaries: { fraction: drop, kind: 'drop' as const } } : {}),
    ...(flood > 0 ? { adversaries: { fraction: flood, kind: 'flood' as const } } : {}),
    ...(values.html !== undefined ? { recordFrames: REPLAY_DRAWN_NODES } : {}),
  });
  const summary = overlaySummary(result);
  process.stdout.write(`${table(Object.entries(summary))}\n`);
  if (values.svg !== undefined) {
    const colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];
    const series = result.runs.flatMap((run, i) => [
      {
        name: `connected (crash ${run.crashFraction})`,
        color: colors[i % colors.length] as string,
        points: run.series.map((s) => [s.t, s.connected] as const),
      },
      {
        name: `active/${result.config.activeViewCapacity} (crash ${run.crashFraction})`,
        color: colors[(i + 2) % colors.length] as string,
        points: run.series.map((s) => [s.t, s.activeMean / result.config.activeViewCapacity] as const),
      },
    ]);
    const main = result.runs[0];
    const svg = linePlot(series, {
      title: `HyParView, ${result.options.nodes} nodes, seed ${result.options.seed}`,
      xLabel: 'simulated time (s)',
      yLabel: 'fraction',
      yMin: 0,
      yMax: 1,
      markers: main === undefined ? [] : [{ x: main.crashAt, label: 'crash' }],
    });
    writeFileSync(values.svg, svg);
  }
  if (values.html !== undefined) writeFileSync(values.html, replayHtml(result));
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
}

function numberList(value: string | undefined, name: string, fallback: string): number[] {
  return (value ?? fallback).split(',').map((item) => numberOption(item, name, 0));
}

/** Counts split overlays over many seeds and cases: one row per case, the JSON of all rows last. */
function overlaySweep(values: Record<string, string | boolean | undefined>): void {
  const text = (name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  const churnSeconds = numberOption(text('churn-seconds'), 'churn-seconds', 60);
  const cases: OverlaySweepCase[] = [];
  for (const nodes of numberList(text('nodes'), 'nodes', '9,30,100'))
    for (const capacity of numberList(text('capacity'), 'capacity', '2,3,4,5,6'))
      for (const joinInterval of numberList(text('join-interval'), 'join-interval', '0,200'))
        for (const churnPerSecond of numberList(text('churn'), 'churn', '0'))
          cases.push({ nodes, capacity, joinInterval, churnPerSecond, churnSeconds });
  const rows = sweepOverlaySplits({
    cases,
    seeds: numberOption(text('seeds'), 'seeds', 100),
    firstSeed: numberOption(text('seed'), 'seed', 1),
    lastingPeriods: numberOption(text('periods'), 'periods', 30),
    onRow: (row) => {
      const { lastingSeeds, ...figures } = row;
      process.stdout.write(
        `${Object.entries(figures)
          .map(([key, value]) => `${key} ${value}`)
          .join('  ')}  lastingSeeds [${lastingSeeds.join(',')}]\n`,
      );
    },
  });
  if (values.json === true) process.stdout.write(`${JSON.stringify({ scenario: 'overlay-sweep', rows })}\n`);
}

/**
 * Runs split 1, 2, 5, 10 and 30 s after nine nodes join one contact within about a second and a cut of
 * `--cut` ms (0: none) a second later splits the contact and three joiners from the other five.
 */
function overlayStartup(values: Record<string, string | boolean | undefined>): void {
  const text = (name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  const startup = text('startup') ?? 'on';
  if (startup !== 'on' && startup !== 'off') {
    throw new ScenarioUsageError(`--startup must be on or off, got ${startup}`);
  }
  const latency = numberList(text('latency'), 'latency', '1,100');
  const cut = numberOption(text('cut'), 'cut', 1_500);
  const result = runOverlayStartup({
    nodes: numberOption(text('nodes'), 'nodes', 9),
    capacity: numberOption(text('capacity'), 'capacity', 3),
    joinInterval: numberOption(text('join-interval'), 'join-interval', 110),
    latency: {
      min: latency[0] as number,
      max: (latency[1] ?? latency[0]) as number,
    },
    ...(cut > 0 ? { cut: { after: 1_000, duration: cut, groupSize: 4 } } : {}),
    checkpoints: [1_000, 2_000, 5_000, 10_000, 30_000],
    seeds: numberOption(text('seeds'), 'seeds', 1000),
    firstSeed: numberOption(text('seed'), 'seed', 1),
    ...(startup === 'off' ? { hyparview: { startupShuffleIntervals: [] } } : {}),
  });
  const { split, ...figures } = result;
  const rows: [string, unknown][] = Object.entries(figures);
  for (const point of split) rows.push([`split after ${point.after / 1000} s`, point.runs]);
  process.stdout.write(`${table(rows)}\n`);
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify({ scenario: 'overlay-startup', startup, ...result })}\n`);
  }
}

function pubsubTree(values: Record<string, string | boolean | undefined>): void {
  const text = (name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  const joinVia = text('join-via') ?? 'random';
  if (joinVia !== 'random' && joinVia !== 'seed') {
    throw new ScenarioUsageError(`--join-via must be random or seed, got ${joinVia}`);
  }
  const result = runPubsubTreeScenario({
    joinVia,
    nodes: numberOption(text('nodes'), 'nodes', 1000),
    seed: numberOption(text('seed'), 'seed', 1),
    crashFraction: numberOption(text('crash'), 'crash', 0.3),
    publishers: numberOption(text('publishers'), 'publishers', 4),
    measuredEvents: numberOption(text('events'), 'events', 100),
    network: { loss: numberOption(text('loss'), 'loss', 0) },
    ...(text('active-view') === undefined
      ? {}
      : { hyparview: { activeViewCapacity: numberOption(text('active-view'), 'active-view', 5) } }),
  });
  const summary = pubsubTreeSummary(result);
  process.stdout.write(`${table([...Object.entries(summary), ...Object.entries(pubsubTreeCost(result))])}\n`);
  if (values.json === true) process.stdout.write(`${JSON.stringify(summary)}\n`);
}

try {
  main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
}
