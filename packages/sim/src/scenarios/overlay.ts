import {
  DEFAULT_HYPARVIEW_CONFIG,
  type HyParView,
  type HyParViewCommand,
  type HyParViewConfig,
  type HyParViewEvent,
  type HyParViewMessage,
  type HyParViewTimer,
  hyparview,
  seededRng,
} from '@netmachine/overlay';
import { components } from '../graph.js';
import type { NetworkModel } from '../network.js';
import { type Adversary, Simulator } from '../simulator.js';

// The overlay scenario: N HyParView nodes join through one seed node, one every `joinInterval`; once all
// have joined (plus `settle`), the active-view graph is measured. Then a fraction of the nodes crash at
// once, `periodsAfterCrash` shuffle periods pass, and the survivors' graph is measured again. Each crash
// fraction is its own run from the same seed, so every run joins identically (checked by trace hash).

export type OverlaySim = Simulator<
  HyParViewMessage,
  HyParViewCommand,
  HyParViewTimer,
  HyParViewEvent,
  HyParView
>;

export interface OverlayScenarioOptions {
  readonly nodes: number;
  readonly seed: number;
  /** Virtual time between two joins (ms). */
  readonly joinInterval?: number;
  /** Virtual time after the last join before the graph is measured (ms). */
  readonly settle?: number;
  /** One run per fraction; the first is the headline `crashFraction`. */
  readonly crashFractions?: readonly number[];
  readonly periodsAfterCrash?: number;
  readonly hyparview?: Partial<HyParViewConfig>;
  readonly network?: Partial<NetworkModel>;
  /**
   * Churn between joining and the crash: `perSecond` times a second a random alive node crashes and a
   * new node joins through a random alive node, for `duration` ms of virtual time.
   */
  readonly churn?: { readonly perSecond: number; readonly duration: number };
  /** Make this fraction of the joined nodes (never the seed node) misbehave before the crash. */
  readonly adversaries?: { readonly fraction: number; readonly kind: 'drop' | 'flood' };
  /** Virtual time between two samples of the time series (ms). */
  readonly sampleEvery?: number;
  /**
   * Record the drawn part of the graph at every sample of the first run (for `--html`): up to this many
   * nodes, a connected sample of the graph before the crash, with their state and the active-view edges
   * between them. The figures always cover every node; only the drawing is sampled.
   */
  readonly recordFrames?: number;
}

/** The drawn sample of the graph at one time. */
export interface OverlayFrame {
  /** Virtual time, seconds. */
  readonly t: number;
  /** Per drawn node: 0 not joined yet, 1 alive, 2 crashed. */
  readonly state: readonly number[];
  /** Active-view edges between drawn nodes, as positions in the drawn set (each pair once). */
  readonly edges: readonly (readonly [number, number])[];
}

/** One point of the time series. */
export interface OverlaySample {
  /** Virtual time, seconds. */
  readonly t: number;
  /** Alive nodes / all nodes. */
  readonly alive: number;
  /** Fraction of alive honest nodes in the largest component of the active-view graph. */
  readonly connected: number;
  /** Mean active view size of alive honest nodes. */
  readonly activeMean: number;
  /** Messages delivered so far. */
  readonly delivered: number;
}

/** What one measurement of the active-view graph shows. */
export interface GraphFigures {
  readonly nodes: number;
  readonly connected: number;
  readonly components: number;
  readonly activeViewMin: number;
  readonly activeViewMax: number;
  readonly activeViewMean: number;
  readonly passiveViewMean: number;
  readonly passiveViewMax: number;
  /** Fraction of active-view entries whose peer lists this node back. */
  readonly symmetric: number;
  /**
   * Components (when there are several) that no live node outside knows of and whose nodes know of no
   * live node outside, in their passive views: nothing HyParView does can join them to the rest.
   * Counted only with `symmetry` (0 otherwise).
   */
  readonly strandedComponents: number;
  /** Component probes sent and bridges asked for by these nodes since they started. */
  readonly probes: number;
  readonly bridges: number;
}

export interface OverlayRun {
  readonly crashFraction: number;
  readonly joined: GraphFigures;
  readonly joinTraceHash: string;
  /** After the churn phase, when there was one. */
  readonly afterChurn: GraphFigures | undefined;
  readonly afterCrash: GraphFigures;
  readonly traceHash: string;
  readonly delivered: number;
  readonly inputs: number;
  readonly decodeErrors: number;
  readonly virtualSeconds: number;
  readonly wallSeconds: number;
  /** CPU time of the process during the run (all its threads, garbage collection included). */
  readonly cpuSeconds: number;
  readonly series: readonly OverlaySample[];
  readonly crashAt: number;
  /** With `recordFrames`, on the first run only. */
  readonly frames?: readonly OverlayFrame[];
}

export interface OverlayResult {
  readonly options: Required<
    Omit<OverlayScenarioOptions, 'hyparview' | 'network' | 'adversaries' | 'churn' | 'recordFrames'>
  >;
  readonly config: HyParViewConfig;
  readonly runs: readonly OverlayRun[];
  readonly wallSeconds: number;
}

/**
 * Measures the active-view graph of the alive honest nodes. `symmetry` (default true) also checks every
 * entry against its peer's view, which costs a view scan per entry; time-series samples skip it.
 */
export function measureGraph(sim: OverlaySim, symmetry = true): GraphFigures {
  const n = sim.nodeCount;
  const counted = (node: number) => sim.isAlive(node) && sim.isHonest(node);
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  let activeSum = 0;
  let passiveSum = 0;
  let passiveMax = 0;
  let entries = 0;
  let symmetric = 0;
  let probes = 0;
  let bridges = 0;
  const componentOf = symmetry ? new Int32Array(n) : undefined;
  const figures = components(
    n,
    counted,
    (node, visit) => {
      const machine = sim.machine(node);
      const self = machine.self;
      const size = machine.activeSize;
      const counters = machine.counters();
      probes += counters.probes;
      bridges += counters.bridges;
      if (size < min) min = size;
      if (size > max) max = size;
      activeSum += size;
      passiveSum += machine.passiveSize;
      if (machine.passiveSize > passiveMax) passiveMax = machine.passiveSize;
      machine.forEachActive((peer) => {
        const index = sim.indexOf(peer);
        if (index === undefined) return;
        entries++;
        if (symmetry) {
          let back = false;
          sim.machine(index).forEachActive((p) => {
            if (p === self) back = true;
          });
          if (back) symmetric++;
        }
        visit(index);
      });
    },
    componentOf,
  );
  const nodes = figures.nodes;
  let stranded = 0;
  if (componentOf !== undefined && figures.components > 1) {
    const linked = new Uint8Array(n);
    for (let node = 0; node < n; node++) {
      const own = componentOf[node] as number;
      if (own < 0) continue;
      for (const peer of sim.machine(node).passiveView()) {
        const index = sim.indexOf(peer);
        if (index === undefined) continue;
        const other = componentOf[index] as number;
        if (other < 0 || other === own) continue;
        linked[own] = 1;
        linked[other] = 1;
      }
    }
    for (let node = 0; node < n; node++) {
      if (componentOf[node] === node && linked[node] === 0) stranded++;
    }
  }
  return {
    nodes,
    connected: figures.fraction,
    components: figures.components,
    activeViewMin: nodes === 0 ? 0 : min,
    activeViewMax: max,
    activeViewMean: nodes === 0 ? 0 : activeSum / nodes,
    passiveViewMean: nodes === 0 ? 0 : passiveSum / nodes,
    passiveViewMax: passiveMax,
    symmetric: entries === 0 || !symmetry ? 1 : symmetric / entries,
    strandedComponents: stranded,
    probes,
    bridges,
  };
}

/** Forged wire values a flooding node sends: garbage half the time, well-formed Shuffles of ghosts otherwise. */
function forgeHyParView(rng: { next(): number; int(n: number): number }, self: string): unknown {
  const garbage: unknown[] = [
    null,
    42,
    'shuffle',
    { type: 'nope' },
    { type: 'forwardJoin', peer: '', ttl: 3 },
    { type: 'forwardJoin', peer: self, ttl: 1e9 },
    { type: 'shuffle', origin: self, ttl: 2, peers: new Array(1000).fill(self) },
    { type: 'neighbor', priority: 'urgent' },
  ];
  if (rng.next() < 0.5) return garbage[rng.int(garbage.length)];
  const peers = Array.from({ length: 8 }, () => `ghost${rng.int(1_000_000)}`);
  return { type: 'shuffle', origin: self, ttl: 0, peers };
}

function runOne(
  options: OverlayResult['options'],
  extra: OverlayScenarioOptions,
  config: HyParViewConfig,
  crashFraction: number,
): OverlayRun {
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const sim: OverlaySim = new Simulator({
    protocol: hyparview(config),
    seed: options.seed,
    ...(extra.network === undefined ? {} : { network: extra.network }),
  });
  const series: OverlaySample[] = [];
  const raw: RawFrame[] = [];
  const recordFrames = extra.recordFrames ?? 0;
  const sample = () => {
    if (recordFrames > 0) raw.push(rawFrame(sim));
    const graph = measureGraph(sim, false);
    let alive = 0;
    for (let node = 0; node < sim.nodeCount; node++) if (sim.isAlive(node)) alive++;
    series.push({
      t: sim.now / 1000,
      alive: alive / sim.nodeCount,
      connected: graph.connected,
      activeMean: graph.activeViewMean,
      delivered: sim.stats.delivered,
    });
  };

  const seedNode = sim.addNode();
  for (let i = 1; i < options.nodes; i++) {
    sim.at(i * options.joinInterval, () => {
      const node = sim.addNode();
      sim.command(node, { type: 'join', contact: sim.id(seedNode) });
    });
  }
  const joinedAt = (options.nodes - 1) * options.joinInterval + options.settle;
  for (let t = options.sampleEvery; t < joinedAt; t += options.sampleEvery) sim.at(t, sample);
  sim.runUntil(joinedAt);
  sample();
  const joined = measureGraph(sim);
  const joinTraceHash = sim.traceHash();

  const choices = seededRng(options.seed ^ 0x5eed5eed);
  if (extra.adversaries !== undefined && extra.adversaries.fraction > 0) {
    const count = Math.floor(extra.adversaries.fraction * options.nodes);
    const adversary: Adversary =
      extra.adversaries.kind === 'drop'
        ? { kind: 'drop' }
        : { kind: 'flood', interval: 100, burst: 20, forge: forgeHyParView };
    const everyone = Array.from({ length: sim.nodeCount }, (_, i) => i);
    for (const node of pickDistinct(choices, everyone, count, seedNode)) sim.setAdversary(node, adversary);
  }
  let afterChurn: GraphFigures | undefined;
  if (extra.churn !== undefined && extra.churn.perSecond > 0) {
    const churnRng = seededRng(options.seed ^ 0xc4c4c4c4);
    const step = 1000 / extra.churn.perSecond;
    const churnEnd = sim.now + extra.churn.duration;
    const randomAlive = (): number | undefined => {
      const alive = aliveNodes(sim);
      return alive[churnRng.int(alive.length)];
    };
    for (let t = sim.now + step; t <= churnEnd; t += step) {
      sim.at(t, () => {
        const victim = randomAlive();
        if (victim !== undefined) sim.crash([victim]);
        const contact = randomAlive();
        const node = sim.addNode();
        if (contact !== undefined) sim.command(node, { type: 'join', contact: sim.id(contact) });
      });
    }
    for (let t = sim.now + options.sampleEvery; t < churnEnd; t += options.sampleEvery) sim.at(t, sample);
    sim.runUntil(churnEnd + options.settle);
    sample();
    afterChurn = measureGraph(sim);
  }
  const crashAt = sim.now;
  const candidates = aliveNodes(sim);
  sim.crash(pickDistinct(choices, candidates, Math.floor(crashFraction * candidates.length), -1));
  const end = crashAt + options.periodsAfterCrash * config.shuffleInterval;
  for (let t = crashAt + options.sampleEvery; t < end; t += options.sampleEvery) sim.at(t, sample);
  sim.runUntil(end);
  sample();
  const afterCrash = measureGraph(sim);
  return {
    crashFraction,
    joined,
    joinTraceHash,
    afterChurn,
    afterCrash,
    traceHash: sim.traceHash(),
    delivered: sim.stats.delivered,
    inputs: sim.stats.inputs,
    decodeErrors: sim.stats.decodeErrors,
    virtualSeconds: sim.now / 1000,
    wallSeconds: (performance.now() - started) / 1000,
    cpuSeconds: cpuSecondsSince(cpuStarted),
    series,
    crashAt: crashAt / 1000,
    ...(recordFrames > 0 ? { frames: projectFrames(raw, recordFrames, crashAt / 1000) } : {}),
  };
}

/** Every node's state and the whole active-view graph at one sample (kept only while recording). */
interface RawFrame {
  readonly t: number;
  readonly state: Uint8Array;
  readonly edges: Int32Array;
}

function rawFrame(sim: OverlaySim): RawFrame {
  const state = new Uint8Array(sim.nodeCount);
  const edges: number[] = [];
  for (let node = 0; node < sim.nodeCount; node++) {
    state[node] = sim.isAlive(node) ? 1 : 2;
    if (state[node] !== 1) continue;
    sim.machine(node).forEachActive((peer) => {
      const other = sim.indexOf(peer);
      if (other !== undefined && other > node) edges.push(node, other);
      else if (other !== undefined && other < node) edges.push(other, node);
    });
  }
  return { t: sim.now / 1000, state, edges: Int32Array.from(edges) };
}

/**
 * Projects the recorded frames onto a drawn sample of `count` nodes: a breadth-first "snowball" from the
 * first node over the graph at `at` (the last frame before the crash), so the drawn nodes keep their
 * edges to each other. A uniform sample of 400 of 10,000 nodes would keep almost no edges.
 */
function projectFrames(raw: readonly RawFrame[], count: number, at: number): OverlayFrame[] {
  const reference = [...raw].reverse().find((f) => f.t <= at) ?? raw.at(-1);
  if (reference === undefined) return [];
  const adjacency = new Map<number, number[]>();
  for (let i = 0; i < reference.edges.length; i += 2) {
    const a = reference.edges[i] as number;
    const b = reference.edges[i + 1] as number;
    (adjacency.get(a) ?? adjacency.set(a, []).get(a))?.push(b);
    (adjacency.get(b) ?? adjacency.set(b, []).get(b))?.push(a);
  }
  const drawn: number[] = [];
  const position = new Map<number, number>();
  const queue = [0];
  for (let head = 0; head < queue.length && drawn.length < count; head++) {
    const node = queue[head] as number;
    if (position.has(node)) continue;
    position.set(node, drawn.length);
    drawn.push(node);
    for (const next of adjacency.get(node) ?? []) if (!position.has(next)) queue.push(next);
  }
  return raw.map((f) => {
    const state = drawn.map((node) => (node < f.state.length ? (f.state[node] as number) : 0));
    const edges: Array<readonly [number, number]> = [];
    const seen = new Set<number>();
    for (let i = 0; i < f.edges.length; i += 2) {
      const a = position.get(f.edges[i] as number);
      const b = position.get(f.edges[i + 1] as number);
      if (a === undefined || b === undefined) continue;
      const [lo, hi] = a < b ? [a, b] : [b, a];
      if (seen.has(lo * drawn.length + hi)) continue;
      seen.add(lo * drawn.length + hi);
      edges.push([lo, hi]);
    }
    return { t: f.t, state, edges };
  });
}

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

function aliveNodes(sim: OverlaySim): number[] {
  const alive: number[] = [];
  for (let node = 0; node < sim.nodeCount; node++) if (sim.isAlive(node)) alive.push(node);
  return alive;
}

/** `count` distinct nodes of `candidates`, never `except`, chosen by `rng` (partial Fisher–Yates). */
function pickDistinct(
  rng: { int(n: number): number },
  candidates: readonly number[],
  count: number,
  except: number,
): number[] {
  const pool = candidates.filter((i) => i !== except);
  const take = Math.min(count, pool.length);
  for (let i = 0; i < take; i++) {
    const j = i + rng.int(pool.length - i);
    const tmp = pool[i] as number;
    pool[i] = pool[j] as number;
    pool[j] = tmp;
  }
  return pool.slice(0, take);
}

export function runOverlayScenario(options: OverlayScenarioOptions): OverlayResult {
  const started = performance.now();
  const config = { ...DEFAULT_HYPARVIEW_CONFIG, ...options.hyparview };
  const resolved: OverlayResult['options'] = {
    nodes: options.nodes,
    seed: options.seed >>> 0,
    joinInterval: options.joinInterval ?? 10,
    settle: options.settle ?? 2_000,
    crashFractions: options.crashFractions ?? [0.5, 0.8],
    periodsAfterCrash: options.periodsAfterCrash ?? 10,
    sampleEvery: options.sampleEvery ?? config.shuffleInterval / 2,
  };
  if (!Number.isInteger(resolved.nodes) || resolved.nodes < 2)
    throw new RangeError('nodes must be an integer ≥ 2');
  const runs = resolved.crashFractions.map((fraction, i) =>
    runOne(resolved, i === 0 ? options : { ...options, recordFrames: 0 }, config, fraction),
  );
  return { options: resolved, config, runs, wallSeconds: (performance.now() - started) / 1000 };
}

/** The headline figures of an overlay result, as one flat JSON object. */
export function overlaySummary(result: OverlayResult): Record<string, unknown> {
  const [main, ...others] = result.runs;
  if (main === undefined) throw new RangeError('no runs');
  const delivered = result.runs.reduce((sum, run) => sum + run.delivered, 0);
  const simWall = result.runs.reduce((sum, run) => sum + run.wallSeconds, 0);
  const summary: Record<string, unknown> = {
    scenario: 'overlay',
    nodes: result.options.nodes,
    seed: result.options.seed,
    connected: main.joined.connected,
    components: main.joined.components,
    activeViewMin: main.joined.activeViewMin,
    activeViewMax: main.joined.activeViewMax,
    activeViewMean: round(main.joined.activeViewMean),
    passiveViewMean: round(main.joined.passiveViewMean),
    passiveViewMax: main.joined.passiveViewMax,
    symmetricActiveEntries: round(main.joined.symmetric),
    crashFraction: main.crashFraction,
    connectedAfterCrash: main.afterCrash.connected,
    survivors: main.afterCrash.nodes,
    activeViewMinAfterCrash: main.afterCrash.activeViewMin,
    activeViewMeanAfterCrash: round(main.afterCrash.activeViewMean),
    componentsAfterCrash: main.afterCrash.components,
    /** Bridges asked for by the survivors since they started (false alarms, in a connected overlay). */
    bridges: main.afterCrash.bridges,
  };
  if (main.afterChurn !== undefined) {
    summary.connectedAfterChurn = main.afterChurn.connected;
    summary.activeViewMinAfterChurn = main.afterChurn.activeViewMin;
    summary.nodesAfterChurn = main.afterChurn.nodes;
  }
  for (const run of others) {
    const tag = Math.round(run.crashFraction * 100);
    summary[`crashFraction${tag}`] = run.crashFraction;
    summary[`connectedAfterCrash${tag}`] = run.afterCrash.connected;
    summary[`survivors${tag}`] = run.afterCrash.nodes;
    summary[`activeViewMinAfterCrash${tag}`] = run.afterCrash.activeViewMin;
  }
  summary.joinsIdenticalAcrossRuns = result.runs.every((run) => run.joinTraceHash === main.joinTraceHash);
  summary.decodeErrors = result.runs.reduce((sum, run) => sum + run.decodeErrors, 0);
  summary.simMessages = delivered;
  summary.simInputs = result.runs.reduce((sum, run) => sum + run.inputs, 0);
  summary.virtualSeconds = round(main.virtualSeconds);
  summary.simMessagesPerSec = Math.round(delivered / simWall);
  // On a shared machine wall time includes waiting for a core; CPU time shows what the simulator costs.
  summary.simMessagesPerCpuSec = Math.round(
    delivered / result.runs.reduce((sum, run) => sum + run.cpuSeconds, 0),
  );
  summary.wallSeconds = round(result.wallSeconds);
  summary.traceHash = main.traceHash;
  summary.traceHashes = result.runs.map((run) => run.traceHash);
  return summary;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
