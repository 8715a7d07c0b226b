import {
  type BlipParams,
  blipSimilarity,
  blipTargetSimilarity,
  bloomFilter,
  DISCOVERY_PROTOCOL,
  type DiscoveryCommand,
  type DiscoveryConfig,
  type DiscoveryEvent,
  type DiscoveryMessage,
  DiscoveryNode,
  type DiscoveryTimer,
  decodeDiscoveryMessage,
  type PeerEntry,
} from '@netmachine/discovery';
import type { PeerId } from '@netmachine/overlay';
import { seededRng } from '@netmachine/overlay';
import { Simulator } from '../simulator.js';
import { Colluder } from './discovery-colluder.js';
import { buildWorld, PERIOD, type Role, type World } from './discovery-world.js';

// The discovery scenario: N nodes in skewed (Zipf) domains run TAPS + URPS, TAC and domain routing while
// a tenth of them collude to take over every correct node's peer samples. Colluders push exchange
// offers full of their own freshly aged entries at every correct node as often as the receivers answer,
// answer every exchange with their own entries only, slip in forged entries (bad signatures), and drop
// every lookup that reaches them. A few correct nodes opt out. After `periods` gossip periods the run
// measures what the correct nodes sample, how clustered they are, and how lookups did; the same world
// and the same attack against plain Cyclon (no trust, no URPS) give the baseline.
//
// The PSI step is modelled: an overlap check the machine asks for is answered with the exact shared
// domains (the real nodes run DH-PSI). Signatures are modelled by identity: an entry verifies when its
// filter and signature are the very ones its owner published, which a colluder cannot produce for
// anyone but the colluders.

export interface DiscoveryScenarioOptions {
  readonly nodes: number;
  readonly seed: number;
  /** Domains (default 600), sizes Zipf-distributed. */
  readonly domains?: number;
  /** Zipf exponent of domain popularity (default 1). */
  readonly zipf?: number;
  readonly byzantineFraction?: number;
  /** Fraction of the correct nodes that opt out of inter-domain discovery. */
  readonly optOutFraction?: number;
  /** Peers each correct node trusts. */
  readonly trustedPeers?: number;
  /** Fraction of trust edges that point at colluders (trust is earned, but not perfectly). */
  readonly attackEdges?: number;
  /** BLIP: filter bits, hash functions, ε (default 128, 2, 6). */
  readonly blip?: Partial<{ readonly bits: number; readonly hashes: number; readonly epsilon: number }>;
  /** Gossip periods simulated (1 s each). */
  readonly periods?: number;
  /** Lookups started by correct nodes (for domains they are not in). */
  readonly lookups?: number;
  /** Exchange offers each colluder pushes per period. */
  readonly byzantinePushes?: number;
  /** Run the baseline (plain Cyclon under the same attack) as well. */
  readonly baseline?: boolean;
  readonly discovery?: Partial<Omit<DiscoveryConfig, 'optedOut'>>;
}

export interface DiscoverySummary {
  readonly scenario: 'discovery';
  readonly nodes: number;
  readonly seed: number;
  readonly domains: number;
  readonly largestDomain: number;
  readonly domainsWithOneParticipant: number;
  readonly byzantineFraction: number;
  readonly optedOut: number;
  readonly attackEdges: number;
  readonly byzantineShareInSamples: number;
  readonly byzantineShareInUrpsMemory: number;
  readonly byzantineShareInTapsViews: number;
  readonly byzantineShareBaseline: number;
  readonly clusteredFraction: number;
  readonly lookups: number;
  readonly lookupSuccess: number;
  readonly lookupHopsP50: number;
  readonly lookupHopsP99: number;
  readonly hopLimit: number;
  readonly blipEpsilon: number;
  readonly blipBits: number;
  readonly blipHashes: number;
  readonly optedOutLeaked: number;
  readonly forgedEntriesRejected: number;
  readonly offersRefused: number;
  readonly lookupsDroppedByColluders: number;
  readonly virtualSeconds: number;
  readonly simMessages: number;
  readonly traceHash: string;
  readonly baselineTraceHash: string;
}

const DEFAULT_BLIP: BlipParams = { bits: 128, hashes: 2, epsilon: 6 };

type AnyNode = DiscoveryNode | Colluder;
type DiscoverySim = Simulator<DiscoveryMessage, DiscoveryCommand, DiscoveryTimer, DiscoveryEvent, AnyNode>;

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
}

const round = (x: number, digits = 4) => Math.round(x * 10 ** digits) / 10 ** digits;

interface RunOutcome {
  readonly sim: DiscoverySim;
  readonly samples: number;
  readonly byzantineSamples: number;
  readonly lookupHops: number[];
  readonly lookupFailures: number;
  readonly leakedInAnswers: number;
}

function runWorld(
  world: World,
  options: Required<Omit<DiscoveryScenarioOptions, 'discovery' | 'blip'>>,
  discovery: Partial<DiscoveryConfig>,
  withLookups: boolean,
): RunOutcome {
  const { blip } = world;
  const exchangeSize = discovery.taps?.exchangeSize ?? 8;
  const verify = (entry: PeerEntry) => {
    const node = world.index.get(entry.peer);
    if (node === undefined) return false;
    const advert = world.adverts[node] as PeerEntry;
    return advert.filter === entry.filter && advert.signature === entry.signature;
  };
  const similarity = (a: Uint8Array, b: Uint8Array) => blipSimilarity(a, b, blip);
  const routeSimilarity = (filter: Uint8Array, target: Uint8Array) =>
    blipTargetSimilarity(filter, target, blip);
  const targets = new Map<string, Uint8Array>();
  const domainFilter = (domain: string) => {
    let filter = targets.get(domain);
    if (filter === undefined) {
      filter = bloomFilter([domain], blip);
      targets.set(domain, filter);
    }
    return filter;
  };
  let lookupFailures = 0;
  let leakedInAnswers = 0;
  const lookupHops: number[] = [];
  const lookupDomain = new Map<string, string>();
  let sim: DiscoverySim | undefined;
  const onEvent = (node: number, event: DiscoveryEvent) => {
    const s = sim as DiscoverySim;
    if (event.type === 'psiWanted') {
      const other = world.index.get(event.entry.peer);
      const theirs = other === undefined ? [] : (world.domainsOf[other] as string[]);
      const shared = (world.domainsOf[node] as string[]).filter((d) => theirs.includes(d));
      s.command(node, { type: 'psiResult', entry: event.entry, shared });
      return;
    }
    if (!lookupDomain.has(event.id)) return;
    if (event.type === 'lookupFailed') {
      lookupFailures++;
      return;
    }
    for (const m of event.members)
      if (world.roles[world.index.get(m.peer) ?? -1] === 'optedOut') leakedInAnswers++;
    const real = event.members.some((m) => {
      const member = world.index.get(m.peer);
      return member !== undefined && (world.domainsOf[member] as string[]).includes(event.domain);
    });
    if (real) lookupHops.push(event.hops);
    else lookupFailures++;
  };
  sim = new Simulator<DiscoveryMessage, DiscoveryCommand, DiscoveryTimer, DiscoveryEvent, AnyNode>({
    protocol: {
      protocol: DISCOVERY_PROTOCOL,
      decode: decodeDiscoveryMessage,
      create: (self, rng) => {
        const node = world.index.get(self) as number;
        const role = world.roles[node];
        if (role === 'byzantine')
          return new Colluder(self, rng, world, options.byzantinePushes, exchangeSize);
        const trusted = world.trusted[node] as ReadonlySet<PeerId>;
        return new DiscoveryNode(
          self,
          rng,
          {
            advert: world.adverts[node] as PeerEntry,
            domains: world.domainsOf[node] as string[],
            verify,
            trust: (peer) => (trusted.has(peer) ? 1 : 0),
            similarity,
            targetSimilarity: routeSimilarity,
            domainFilter,
          },
          { ...discovery, optedOut: role === 'optedOut' },
        );
      },
    },
    seed: options.seed,
    onEvent,
  });
  const s = sim;
  for (const id of world.ids) s.addNode(id);
  // Joining: every participant starts from its trusted peers and a few peers from the directory.
  const rng = seededRng(options.seed ^ 0x1017);
  const participants = world.ids.map((_, i) => i).filter((i) => world.roles[i] !== 'optedOut');
  for (const node of participants) {
    const entries: PeerEntry[] = [];
    for (const peer of world.trusted[node] as ReadonlySet<PeerId>)
      entries.push(world.adverts[world.index.get(peer) as number] as PeerEntry);
    for (let i = 0; i < 4; i++)
      entries.push(world.adverts[participants[rng.int(participants.length)] as number] as PeerEntry);
    s.command(node, { type: 'join', entries: entries.slice(0, exchangeSize) }, rng.int(PERIOD));
  }
  const end = options.periods * PERIOD;
  if (withLookups) {
    const candidates = [...world.members.entries()]
      .filter(([, members]) => members.some((m) => world.roles[m] === 'correct'))
      .map(([d]) => d)
      .sort();
    const start = Math.floor(options.periods / 2) * PERIOD;
    const window = end - start - 15 * PERIOD;
    for (let i = 0; i < options.lookups; i++) {
      const origin = world.correct[rng.int(world.correct.length)] as number;
      let domain = candidates[rng.int(candidates.length)] as string;
      while ((world.domainsOf[origin] as string[]).includes(domain))
        domain = candidates[rng.int(candidates.length)] as string;
      const id = `lookup${i}`;
      lookupDomain.set(id, domain);
      s.command(origin, { type: 'lookup', id, domain }, start + Math.floor((i * window) / options.lookups));
    }
  }
  // Samples: every correct node draws one each period of the last ten.
  let samples = 0;
  let byzantineSamples = 0;
  for (let t = end - 10 * PERIOD; t < end; t += PERIOD) {
    s.at(t, () => {
      for (const node of world.correct) {
        const sample = (s.machine(node) as DiscoveryNode).taps.sample();
        if (sample === undefined) continue;
        samples++;
        if (world.roles[world.index.get(sample.peer) ?? -1] === 'byzantine') byzantineSamples++;
      }
    });
  }
  s.runUntil(end);
  const pending = [...lookupDomain.keys()].length - lookupHops.length - lookupFailures;
  lookupFailures += Math.max(0, pending);
  return { sim: s, samples, byzantineSamples, lookupHops, lookupFailures, leakedInAnswers };
}

/** Runs the scenario and its baseline; every figure is computed from what happened. */
export function runDiscoveryScenario(options: DiscoveryScenarioOptions): DiscoverySummary {
  const resolved = {
    nodes: options.nodes,
    seed: options.seed,
    domains: options.domains ?? 600,
    zipf: options.zipf ?? 1,
    byzantineFraction: options.byzantineFraction ?? 0.1,
    optOutFraction: options.optOutFraction ?? 0.05,
    trustedPeers: options.trustedPeers ?? 8,
    attackEdges: options.attackEdges ?? 0.02,
    periods: options.periods ?? 60,
    lookups: options.lookups ?? Math.min(2000, options.nodes),
    byzantinePushes: options.byzantinePushes ?? 20,
    baseline: options.baseline ?? true,
  };
  if (!Number.isInteger(resolved.nodes) || resolved.nodes < 20)
    throw new RangeError('discovery needs at least 20 nodes');
  const blip: BlipParams = { ...DEFAULT_BLIP, ...options.blip };
  const world = buildWorld(resolved, blip);
  const hopLimit = Math.min(
    options.discovery?.routing?.hopLimit ?? Number.POSITIVE_INFINITY,
    Math.floor(2 * Math.log2(resolved.nodes)),
  );
  const discovery: Partial<DiscoveryConfig> = {
    ...options.discovery,
    routing: { ...options.discovery?.routing, hopLimit },
  };
  const main = runWorld(world, resolved, discovery, true);
  const baseline = resolved.baseline
    ? runWorld(
        world,
        resolved,
        { taps: { ...options.discovery?.taps, trustAware: false, urps: false }, clustering: false },
        false,
      )
    : undefined;

  const sim = main.sim;
  let leaked = main.leakedInAnswers;
  let urps = 0;
  let urpsByzantine = 0;
  let view = 0;
  let viewByzantine = 0;
  let forged = 0;
  let refused = 0;
  let clusteredNodes = 0;
  let clusterCounted = 0;
  const isRole = (peer: PeerId, role: Role) => world.roles[world.index.get(peer) ?? -1] === role;
  const participatingCorrect = (domain: string) =>
    (world.members.get(domain) ?? []).filter((m) => world.roles[m] === 'correct').length;
  for (const node of world.correct) {
    const machine = sim.machine(node) as DiscoveryNode;
    forged +=
      machine.taps.counters.forgedEntries +
      machine.tac.counters.forgedEntries +
      machine.router.counters.forgedEntries;
    refused += machine.taps.counters.offersRefused;
    machine.taps.forEachInView((e) => {
      view++;
      if (isRole(e.peer, 'byzantine')) viewByzantine++;
      if (isRole(e.peer, 'optedOut')) leaked++;
    });
    for (const { id } of machine.taps.sampler?.entries() ?? []) {
      urps++;
      if (isRole(id, 'byzantine')) urpsByzantine++;
      if (isRole(id, 'optedOut')) leaked++;
    }
    const neighbours = machine.tac.cluster();
    for (const e of neighbours) if (isRole(e.peer, 'optedOut')) leaked++;
    const wanted = (world.domainsOf[node] as string[]).filter((d) => participatingCorrect(d) >= 2);
    if (wanted.length === 0) continue;
    clusterCounted++;
    const covered = wanted.every((d) =>
      neighbours.some((e) => (world.domainsOf[world.index.get(e.peer) ?? -1] ?? []).includes(d)),
    );
    if (covered) clusteredNodes++;
  }
  let droppedByColluders = 0;
  for (let node = 0; node < world.ids.length; node++) {
    const machine = sim.machine(node);
    if (machine instanceof Colluder) droppedByColluders += machine.droppedLookups;
  }
  const hops = [...main.lookupHops].sort((a, b) => a - b);
  const lookups = main.lookupHops.length + main.lookupFailures;
  const sizes = [...world.members.values()].map((m) => m.length);
  const oneParticipant = [...world.members.keys()].filter((d) => participatingCorrect(d) === 1).length;
  return {
    scenario: 'discovery',
    nodes: resolved.nodes,
    seed: resolved.seed,
    domains: world.members.size,
    largestDomain: Math.max(...sizes),
    domainsWithOneParticipant: oneParticipant,
    byzantineFraction: resolved.byzantineFraction,
    optedOut: world.roles.filter((r) => r === 'optedOut').length,
    attackEdges: resolved.attackEdges,
    byzantineShareInSamples: round(main.samples === 0 ? 0 : main.byzantineSamples / main.samples),
    byzantineShareInUrpsMemory: round(urps === 0 ? 0 : urpsByzantine / urps),
    byzantineShareInTapsViews: round(view === 0 ? 0 : viewByzantine / view),
    byzantineShareBaseline: round(
      baseline === undefined || baseline.samples === 0 ? 0 : baseline.byzantineSamples / baseline.samples,
    ),
    clusteredFraction: round(clusterCounted === 0 ? 1 : clusteredNodes / clusterCounted),
    lookups,
    lookupSuccess: round(lookups === 0 ? 1 : main.lookupHops.length / lookups),
    lookupHopsP50: percentile(hops, 0.5),
    lookupHopsP99: percentile(hops, 0.99),
    hopLimit,
    blipEpsilon: blip.epsilon,
    blipBits: blip.bits,
    blipHashes: blip.hashes,
    optedOutLeaked: leaked,
    forgedEntriesRejected: forged,
    offersRefused: refused,
    lookupsDroppedByColluders: droppedByColluders,
    virtualSeconds: sim.now / 1000,
    simMessages: sim.stats.delivered,
    traceHash: sim.traceHash(),
    baselineTraceHash: baseline?.sim.traceHash() ?? '',
  };
}
