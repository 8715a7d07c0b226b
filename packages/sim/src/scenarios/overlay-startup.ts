import { type HyParViewConfig, hyparview, seededRng } from '@netmachine/overlay';
import { Simulator } from '../simulator.js';
import { measureGraph, type OverlaySim } from './overlay.js';

// Start-up splits: a handful of nodes join one contact within about a second (as the pub/sub bench's
// publisher and subscribers do), and the active-view graph is measured at a few times after that.
// Counts, over many seeds, the runs still split at each time. Joins alone rarely leave a lasting split
// here (the bench saw one of a full clique of four and five full others); a short cut right after the
// joins, between the contact with the first few joiners and the rest, makes one as the bench saw it:
// each side repairs its lost links from its own side and ends full, still knowing the other side's
// nodes in its passive views. The checkpoints then count from the end of the cut. Node ids are drawn
// at random per run (as NodeIds are), so the smallest id, the labels' root, is not always the contact.

export interface OverlayStartupOptions {
  readonly nodes: number;
  readonly capacity: number;
  /** Virtual time between two joins (ms). */
  readonly joinInterval: number;
  /**
   * One-way latency of a link (ms), drawn per pair from [min, max]: a loopback bench is near 1 when quiet,
   * but nine saturated processes answer in anything up to hundreds of ms.
   */
  readonly latency: { readonly min: number; readonly max: number };
  /**
   * A cut `after` ms after the last join, between the contact with the next `groupSize − 1` nodes and
   * the rest, lasting `duration` ms; none when absent.
   */
  readonly cut?: { readonly after: number; readonly duration: number; readonly groupSize: number };
  /** Times after the last join (or after the cut ends) at which the graph is measured (ms), ascending. */
  readonly checkpoints: readonly number[];
  /** Seeds `firstSeed .. firstSeed + seeds − 1`. */
  readonly seeds: number;
  readonly firstSeed?: number;
  readonly hyparview?: Partial<HyParViewConfig>;
}

export interface OverlayStartupResult {
  readonly nodes: number;
  readonly capacity: number;
  readonly joinInterval: number;
  readonly latency: { readonly min: number; readonly max: number };
  readonly runs: number;
  /** Per checkpoint: the time after the last join (ms) and the runs split then. */
  readonly split: readonly { readonly after: number; readonly runs: number }[];
  /** Bridges asked for, summed over the runs, by the last checkpoint. */
  readonly bridges: number;
  /** Largest active view seen at the last checkpoint. */
  readonly activeViewMax: number;
  /** Messages delivered per run by the last checkpoint (mean). */
  readonly messagesPerRun: number;
}

export function runOverlayStartup(options: OverlayStartupOptions): OverlayStartupResult {
  const firstSeed = options.firstSeed ?? 1;
  const split = options.checkpoints.map(() => 0);
  let bridges = 0;
  let activeViewMax = 0;
  let messages = 0;
  for (let seed = firstSeed; seed < firstSeed + options.seeds; seed++) {
    const sim: OverlaySim = new Simulator({
      protocol: hyparview({ ...options.hyparview, activeViewCapacity: options.capacity }),
      seed,
      network: { latency: { distribution: 'uniform', ...options.latency } },
    });
    const ids = seededRng(seed ^ 0x1d5eed);
    const randomId = () => `p${ids.int(0x7fffffff).toString(16).padStart(8, '0')}`;
    const contact = sim.addNode(randomId());
    for (let i = 1; i < options.nodes; i++) {
      sim.at(i * options.joinInterval, () => {
        const node = sim.addNode(randomId());
        sim.command(node, { type: 'join', contact: sim.id(contact) });
      });
    }
    let start = (options.nodes - 1) * options.joinInterval;
    const cut = options.cut;
    if (cut !== undefined) {
      sim.runUntil(start + cut.after);
      sim.partition((node) => (node < cut.groupSize ? 0 : 1));
      sim.runUntil(start + cut.after + cut.duration);
      sim.heal();
      start = sim.now;
    }
    options.checkpoints.forEach((after, index) => {
      sim.runUntil(start + after);
      const graph = measureGraph(sim, false);
      if (graph.components > 1) split[index] = (split[index] as number) + 1;
      if (index === options.checkpoints.length - 1) {
        bridges += graph.bridges;
        activeViewMax = Math.max(activeViewMax, graph.activeViewMax);
      }
    });
    messages += sim.stats.delivered;
  }
  return {
    nodes: options.nodes,
    capacity: options.capacity,
    joinInterval: options.joinInterval,
    latency: options.latency,
    runs: options.seeds,
    split: options.checkpoints.map((after, index) => ({ after, runs: split[index] as number })),
    bridges,
    activeViewMax,
    messagesPerRun: options.seeds === 0 ? 0 : messages / options.seeds,
  };
}
