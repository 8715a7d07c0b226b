import {
  type BroadcastOverlay,
  type BroadcastOverlayCommand,
  type BroadcastOverlayEvent,
  type BroadcastOverlayMessage,
  type BroadcastOverlayTimer,
  broadcastOverlay,
  DEFAULT_HYPARVIEW_CONFIG,
  DEFAULT_PLUMTREE_OPTIONS,
  type HyParViewConfig,
  type PlumTreeOptions,
  seededRng,
} from '@netmachine/overlay';
import type { NetworkModel } from '../network.js';
import { Simulator } from '../simulator.js';

// The pubsub-tree scenario: N nodes run HyParView and PlumTree as one machine; every node subscribes (all
// members of one domain). After the overlay has formed, a few publishers broadcast events in four phases,
// each measured on its own from what the machines delivered and received:
//   warm-up   — the first events flood every link and prune the cycles away: the tree forms (not measured);
//   settled   — delivery, hops and the relative message redundancy of a settled tree;
//   crash     — a fraction of the nodes crash at once and events are published right after, while the
//               survivors still hold links to the dead (failure detection takes a second);
//   repair    — some time later, once HyParView has refilled the views, events must reach every survivor.

export type PubsubTreeSim = Simulator<
  BroadcastOverlayMessage,
  BroadcastOverlayCommand,
  BroadcastOverlayTimer,
  BroadcastOverlayEvent,
  BroadcastOverlay
>;

export interface PubsubTreeScenarioOptions {
  readonly nodes: number;
  readonly seed: number;
  /** Virtual time between two joins (ms). */
  readonly joinInterval?: number;
  /**
   * Whom a new node joins through: `random`, a member already joined (as in a domain, where any member's
   * advert will do), or `seed`, always the first node (the overlay scenario's stress case; its active-view
   * graph has about twice the diameter, and so do the trees over it).
   */
  readonly joinVia?: 'random' | 'seed';
  /** Virtual time after the last join before the first event (ms). */
  readonly settle?: number;
  /** How many nodes publish (chosen at random once the overlay has formed; they never crash). */
  readonly publishers?: number;
  /** Virtual time between two events (ms); events come from the publishers in turn. */
  readonly eventInterval?: number;
  readonly warmupEvents?: number;
  readonly measuredEvents?: number;
  readonly crashEvents?: number;
  readonly repairEvents?: number;
  readonly crashFraction?: number;
  /** Virtual time from the crash to the first repair-phase event (ms). */
  readonly repairAfter?: number;
  /** Virtual time given to each phase's events to arrive after the last was published (ms). */
  readonly drain?: number;
  readonly payloadBytes?: number;
  readonly hyparview?: Partial<HyParViewConfig>;
  readonly plumtree?: PlumTreeOptions;
  readonly network?: Partial<NetworkModel>;
}

/** The figures of one phase. */
export interface PhaseFigures {
  readonly events: number;
  /** Alive nodes other than the publisher, summed over events: the (event, subscriber) pairs. */
  readonly pairs: number;
  readonly delivered: number;
  /** delivered / pairs. */
  readonly delivery: number;
  /** Payload copies received by any node (duplicates included) while the phase ran. */
  readonly copies: number;
  /** copies / pairs − 1: 0 for a perfect tree. */
  readonly rmr: number;
  readonly maxHops: number;
  readonly p50Hops: number;
  readonly p99Hops: number;
  /** Mean of each event's last delivery time after its publication (ms of virtual time). */
  readonly meanLastDeliveryMs: number;
  readonly grafts: number;
  readonly prunes: number;
}

export interface PubsubTreeResult {
  readonly options: Required<Omit<PubsubTreeScenarioOptions, 'hyparview' | 'plumtree' | 'network'>>;
  readonly warmup: PhaseFigures;
  readonly settled: PhaseFigures;
  readonly crash: PhaseFigures;
  readonly repair: PhaseFigures;
  readonly survivors: number;
  /** Tree links per alive node after the settled phase (a spanning tree has 2·(n−1)/n). */
  readonly eagerPerNodeSettled: number;
  readonly traceHash: string;
  readonly simMessages: number;
  readonly virtualSeconds: number;
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
}

interface EventRecord {
  readonly publishedAt: number;
  delivered: number;
  lastAt: number;
}

/** Counters summed over all nodes (the dead keep theirs, frozen at the crash). */
function totals(sim: PubsubTreeSim): { copies: number; grafts: number; prunes: number } {
  let copies = 0;
  let grafts = 0;
  let prunes = 0;
  for (let node = 0; node < sim.nodeCount; node++) {
    const counters = sim.machine(node).tree.counters();
    copies += counters.payloadsReceived;
    grafts += counters.graftsSent;
    prunes += counters.prunesSent;
  }
  return { copies, grafts, prunes };
}

function aliveNodes(sim: PubsubTreeSim): number[] {
  const alive: number[] = [];
  for (let node = 0; node < sim.nodeCount; node++) if (sim.isAlive(node)) alive.push(node);
  return alive;
}

/** `count` distinct nodes from `from`, drawn with `rng` (partial Fisher–Yates on a copy). */
function sample(rng: { int(n: number): number }, from: readonly number[], count: number): number[] {
  const copy = from.slice();
  const take = Math.min(count, copy.length);
  for (let i = 0; i < take; i++) {
    const j = i + rng.int(copy.length - i);
    const tmp = copy[i] as number;
    copy[i] = copy[j] as number;
    copy[j] = tmp;
  }
  copy.length = take;
  return copy;
}

function quantile(histogram: readonly number[], total: number, q: number): number {
  if (total === 0) return 0;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let hops = 0; hops < histogram.length; hops++) {
    seen += histogram[hops] ?? 0;
    if (seen >= rank) return hops;
  }
  return histogram.length - 1;
}

export function runPubsubTreeScenario(options: PubsubTreeScenarioOptions): PubsubTreeResult {
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const resolved: PubsubTreeResult['options'] = {
    nodes: options.nodes,
    seed: options.seed >>> 0,
    joinInterval: options.joinInterval ?? 10,
    joinVia: options.joinVia ?? 'random',
    settle: options.settle ?? 5_000,
    publishers: options.publishers ?? 4,
    eventInterval: options.eventInterval ?? 10,
    warmupEvents: options.warmupEvents ?? 40,
    measuredEvents: options.measuredEvents ?? 100,
    crashEvents: options.crashEvents ?? 50,
    repairEvents: options.repairEvents ?? 50,
    crashFraction: options.crashFraction ?? 0.3,
    repairAfter: options.repairAfter ?? 30_000,
    drain: options.drain ?? 10_000,
    payloadBytes: options.payloadBytes ?? 64,
  };
  if (!Number.isInteger(resolved.nodes) || resolved.nodes < 3) {
    throw new RangeError('nodes must be an integer ≥ 3');
  }
  const hyparview = { ...DEFAULT_HYPARVIEW_CONFIG, ...options.hyparview };
  const plumtree = { ...DEFAULT_PLUMTREE_OPTIONS, ...options.plumtree };

  const records = new Map<string, EventRecord>();
  let hopsHistogram: number[] = [];
  let hopsTotal = 0;
  const sim: PubsubTreeSim = new Simulator({
    protocol: broadcastOverlay({ hyparview, plumtree }),
    seed: resolved.seed,
    ...(options.network === undefined ? {} : { network: options.network }),
    onEvent: (_node, event, time) => {
      if (event.type !== 'deliver') return;
      const record = records.get(event.id);
      if (record === undefined) return;
      record.delivered++;
      record.lastAt = time;
      hopsHistogram[event.hops] = (hopsHistogram[event.hops] ?? 0) + 1;
      hopsTotal++;
    },
  });

  // Join: one node every `joinInterval`, through the first node or a random member already joined.
  const joinRng = seededRng(resolved.seed ^ 0x10e10e10);
  sim.addNode();
  for (let i = 1; i < resolved.nodes; i++) {
    sim.at(i * resolved.joinInterval, () => {
      const contact = resolved.joinVia === 'seed' ? 0 : joinRng.int(i);
      sim.command(sim.addNode(), { type: 'join', contact: sim.id(contact) });
    });
  }
  sim.runUntil((resolved.nodes - 1) * resolved.joinInterval + resolved.settle);

  const choices = seededRng(resolved.seed ^ 0x7ee7ee7e);
  const payload = new Uint8Array(resolved.payloadBytes);
  let nextEvent = 0;
  const publishers = sample(choices, aliveNodes(sim), resolved.publishers);
  const publisherSet = new Set(publishers);

  /** Publishes `count` events, waits for them to arrive, and measures. */
  const phase = (count: number): PhaseFigures => {
    const before = totals(sim);
    hopsHistogram = [];
    hopsTotal = 0;
    const ids: string[] = [];
    const start = sim.now;
    for (let i = 0; i < count; i++) {
      const publisher = publishers[i % publishers.length] as number;
      // `<publisher>/<seq>`: PlumTree keeps one tree per publisher.
      const id = `${sim.id(publisher)}/${nextEvent++}`;
      ids.push(id);
      sim.at(start + i * resolved.eventInterval, () => {
        records.set(id, { publishedAt: sim.now, delivered: 0, lastAt: sim.now });
        sim.command(publisher, { type: 'broadcast', id, payload });
      });
    }
    sim.runUntil(start + count * resolved.eventInterval + resolved.drain);
    const after = totals(sim);
    // Only nodes alive throughout the phase are subscribers that could have received the events.
    const subscribers = aliveNodes(sim).length;
    const pairs = count * (subscribers - 1);
    let delivered = 0;
    let lastSum = 0;
    for (const id of ids) {
      const record = records.get(id) as EventRecord;
      delivered += record.delivered;
      lastSum += record.lastAt - record.publishedAt;
      records.delete(id);
    }
    const copies = after.copies - before.copies;
    return {
      events: count,
      pairs,
      delivered,
      delivery: pairs === 0 ? 1 : delivered / pairs,
      copies,
      rmr: pairs === 0 ? 0 : copies / pairs - 1,
      maxHops: hopsHistogram.length === 0 ? 0 : hopsHistogram.length - 1,
      p50Hops: quantile(hopsHistogram, hopsTotal, 0.5),
      p99Hops: quantile(hopsHistogram, hopsTotal, 0.99),
      meanLastDeliveryMs: count === 0 ? 0 : lastSum / count,
      grafts: after.grafts - before.grafts,
      prunes: after.prunes - before.prunes,
    };
  };

  const warmup = phase(resolved.warmupEvents);
  const settled = phase(resolved.measuredEvents);
  let eager = 0;
  const aliveSettled = aliveNodes(sim);
  for (const node of aliveSettled) eager += sim.machine(node).tree.eagerPeers().length;
  const eagerPerNodeSettled = eager / aliveSettled.length;

  const crashAt = sim.now;
  const everyone = aliveNodes(sim);
  const candidates = everyone.filter((node) => !publisherSet.has(node));
  sim.crash(sample(choices, candidates, Math.floor(resolved.crashFraction * everyone.length)));
  const crash = phase(resolved.crashEvents);
  sim.runUntil(crashAt + resolved.repairAfter);
  const repair = phase(resolved.repairEvents);

  const cpu = process.cpuUsage(cpuStarted);
  return {
    options: resolved,
    warmup,
    settled,
    crash,
    repair,
    survivors: aliveNodes(sim).length,
    eagerPerNodeSettled,
    traceHash: sim.traceHash(),
    simMessages: sim.stats.delivered,
    virtualSeconds: sim.now / 1000,
    wallSeconds: (performance.now() - started) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

/**
 * The headline figures of a pubsub-tree result, as one flat JSON object: all from the run itself, so the
 * same seed gives the same object (timings are in `pubsubTreeCost`).
 */
export function pubsubTreeSummary(result: PubsubTreeResult): Record<string, unknown> {
  const { settled, crash, repair, warmup } = result;
  return {
    scenario: 'pubsub-tree',
    nodes: result.options.nodes,
    seed: result.options.seed,
    publishers: result.options.publishers,
    joinVia: result.options.joinVia,
    events: settled.events,
    delivery: round(settled.delivery),
    rmr: round(settled.rmr),
    maxHops: settled.maxHops,
    p50Hops: settled.p50Hops,
    p99Hops: settled.p99Hops,
    maxHopsBound: round(2 * Math.log2(result.options.nodes)),
    meanLastDeliveryMs: Math.round(settled.meanLastDeliveryMs),
    eagerPerNode: round(result.eagerPerNodeSettled),
    warmupEvents: warmup.events,
    warmupDelivery: round(warmup.delivery),
    warmupRmr: round(warmup.rmr),
    crashFraction: result.options.crashFraction,
    survivors: result.survivors,
    crashEvents: crash.events,
    deliveryAfterCrash: round(crash.delivery),
    rmrAfterCrash: round(crash.rmr),
    maxHopsAfterCrash: crash.maxHops,
    graftsAfterCrash: crash.grafts,
    repairEvents: repair.events,
    deliveryAfterRepair: round(repair.delivery),
    rmrAfterRepair: round(repair.rmr),
    maxHopsAfterRepair: repair.maxHops,
    simMessages: result.simMessages,
    virtualSeconds: round(result.virtualSeconds),
    traceHash: result.traceHash,
  };
}

/** What the run cost on this machine: kept out of the summary, so that a seed always gives the same summary. */
export function pubsubTreeCost(result: PubsubTreeResult): Record<string, number> {
  return {
    wallSeconds: round(result.wallSeconds),
    cpuSeconds: round(result.cpuSeconds),
    simMessagesPerCpuSec: Math.round(result.simMessages / result.cpuSeconds),
  };
}

/** Rounds to 4 decimals, but never up to 1 (a delivery of 0.99996 must not read as 1). */
function round(x: number): number {
  const r = Math.round(x * 10_000) / 10_000;
  return r === 1 && x < 1 ? 0.9999 : r;
}
