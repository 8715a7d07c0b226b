import { type BlipParams, blipFilter, type PeerEntry } from '@netmachine/discovery';
import type { PeerId, Rng } from '@netmachine/overlay';
import { seededRng } from '@netmachine/overlay';

// The discovery scenario's world, drawn once per seed: who is correct, colluding or opted out, the
// Zipf-sized domains each node is in, every node's signed advert, and whom each correct node trusts.
// The main run and the baseline run share it.

/** One gossip period of the scenario, in virtual milliseconds. */
export const PERIOD = 1000;

export type Role = 'correct' | 'byzantine' | 'optedOut';

export interface World {
  readonly ids: readonly PeerId[];
  readonly index: ReadonlyMap<PeerId, number>;
  readonly roles: readonly Role[];
  readonly domainsOf: readonly (readonly string[])[];
  readonly members: ReadonlyMap<string, readonly number[]>;
  readonly adverts: readonly PeerEntry[];
  readonly trusted: readonly ReadonlySet<PeerId>[];
  readonly colluders: readonly PeerEntry[];
  readonly correct: readonly number[];
  readonly blip: BlipParams;
  readonly domainCount: number;
}

function zipfTable(count: number, exponent: number): Float64Array {
  const cumulative = new Float64Array(count);
  let sum = 0;
  for (let r = 0; r < count; r++) {
    sum += 1 / (r + 1) ** exponent;
    cumulative[r] = sum;
  }
  for (let r = 0; r < count; r++) cumulative[r] = (cumulative[r] as number) / sum;
  return cumulative;
}

function drawZipf(rng: Rng, cumulative: Float64Array): number {
  const u = rng.next();
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((cumulative[mid] as number) < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** What the world is drawn from: the resolved scenario options that shape it. */
export interface WorldParams {
  readonly nodes: number;
  readonly seed: number;
  readonly domains: number;
  readonly zipf: number;
  readonly byzantineFraction: number;
  readonly optOutFraction: number;
  readonly trustedPeers: number;
  readonly attackEdges: number;
}

export function buildWorld(options: WorldParams, blip: BlipParams): World {
  const rng = seededRng(options.seed ^ 0x0d15c0);
  const n = options.nodes;
  const ids = Array.from({ length: n }, (_, i) => `n${i}`);
  const index = new Map(ids.map((id, i) => [id, i]));
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  const byzantine = Math.round(n * options.byzantineFraction);
  const optedOut = Math.round((n - byzantine) * options.optOutFraction);
  const roles: Role[] = new Array(n).fill('correct');
  order.forEach((node, k) => {
    if (k < byzantine) roles[node] = 'byzantine';
    else if (k < byzantine + optedOut) roles[node] = 'optedOut';
  });
  const table = zipfTable(options.domains, options.zipf);
  const domainsOf: string[][] = [];
  const members = new Map<string, number[]>();
  for (let node = 0; node < n; node++) {
    const u = rng.next();
    const count = u < 0.55 ? 1 : u < 0.85 ? 2 : 3;
    const mine = new Set<string>();
    while (mine.size < count) mine.add(`d${drawZipf(rng, table)}`);
    const list = [...mine];
    domainsOf.push(list);
    for (const d of list) {
      const m = members.get(d);
      if (m === undefined) members.set(d, [node]);
      else m.push(node);
    }
  }
  const adverts: PeerEntry[] = ids.map((peer, node) => {
    const signature = new Uint8Array(8);
    for (let i = 0; i < 8; i++) signature[i] = rng.int(256);
    return { peer, filter: blipFilter(domainsOf[node] as string[], blip, rng), signature, age: 0 };
  });
  const participants = order.filter((node) => roles[node] !== 'optedOut');
  const colluderNodes = participants.filter((node) => roles[node] === 'byzantine');
  const correct = participants.filter((node) => roles[node] === 'correct').sort((a, b) => a - b);
  const trusted: Set<PeerId>[] = ids.map(() => new Set());
  for (const node of correct) {
    const set = trusted[node] as Set<PeerId>;
    let guard = 0;
    while (set.size < options.trustedPeers && guard++ < 100 * options.trustedPeers) {
      const pool = colluderNodes.length > 0 && rng.next() < options.attackEdges ? colluderNodes : correct;
      const peer = pool[rng.int(pool.length)] as number;
      if (peer !== node) set.add(ids[peer] as PeerId);
    }
  }
  return {
    ids,
    index,
    roles,
    domainsOf,
    members,
    adverts,
    trusted,
    colluders: colluderNodes.map((node) => adverts[node] as PeerEntry),
    correct,
    blip,
    domainCount: options.domains,
  };
}
