import type { Machine, MachineInput, MachineOutput, Millis, PeerId, Rng } from '@netmachine/overlay';
import type { PeerEntry, TacMessage } from './messages.js';

// TAC: trust-aware clustering by domain membership. Every period the node exchanges with one cluster
// neighbour (the one it heard from least recently; a peer sampled by TAPS while it has none): it sends
// its own entry and its cluster view, and the partner answers with the entries it holds that are most
// similar to the initiator (T-Man style, Jelasity and Babaoglu). Both rank what they received, with a
// few TAPS samples, by BLIP similarity between domain filters, and ask for the exact overlap with the
// best few they have not checked yet: a `psiWanted` event, answered by a `psiResult` command (on a node,
// a private set intersection run; in the simulator, the exact overlap). A peer that shares a domain
// enters the small cluster view, which is kept so that each of the node's domains has up to
// `perDomain` neighbours. A domain with no neighbour after `lookupAfter` periods asks for a lookup
// (`lookupWanted`); members the lookup finds are checked the same way.

export interface TacConfig {
  /** Most neighbours in the cluster view. */
  readonly clusterSize: number;
  /** Neighbours wanted per domain of the node. */
  readonly perDomain: number;
  /** Entries given in one exchange (the initiator's own entry included). */
  readonly exchangeSize: number;
  /** Gossip period (ms). */
  readonly period: Millis;
  /** Overlap checks asked per period (and per lookup answer). */
  readonly psiPerRound: number;
  /** Peers whose overlap is remembered (checked ones are not asked again). */
  readonly checkedMemory: number;
  /** Periods a domain may stay without a neighbour before a lookup is asked, and between two asks. */
  readonly lookupAfter: number;
}

export const DEFAULT_TAC_CONFIG: TacConfig = {
  clusterSize: 12,
  perDomain: 3,
  exchangeSize: 10,
  period: 1000,
  psiPerRound: 2,
  checkedMemory: 512,
  lookupAfter: 3,
};

export interface TacHooks {
  readonly advert: PeerEntry;
  /** The node's own domains (never sent; only the PSI step looks at them). */
  readonly domains: readonly string[];
  readonly verify: (entry: PeerEntry) => boolean;
  /** Estimated similarity of two domain filters, in [0, 1] (BLIP). */
  readonly similarity: (a: Uint8Array, b: Uint8Array) => number;
  /** A few random peers from peer sampling (TAPS / URPS). */
  readonly samples: (count: number) => readonly PeerEntry[];
}

export type TacCommand =
  /** The outcome of an overlap check: the domains the node shares with `entry.peer` (none: empty). */
  | { readonly type: 'psiResult'; readonly entry: PeerEntry; readonly shared: readonly string[] }
  /** Peers said to be members of one of the node's domains (a lookup's answer): check them. */
  | { readonly type: 'consider'; readonly entries: readonly PeerEntry[] };
export type TacTimer = { readonly type: 'cluster' };
export type TacEvent =
  | { readonly type: 'psiWanted'; readonly entry: PeerEntry }
  | { readonly type: 'lookupWanted'; readonly domain: string };

export interface TacCounters {
  exchanges: number;
  forgedEntries: number;
  psiAsked: number;
  psiShared: number;
  lookupsAsked: number;
}

interface Neighbour {
  entry: PeerEntry;
  shared: readonly string[];
  lastHeard: number;
}

export class Tac implements Machine<TacMessage, TacCommand, TacTimer, TacEvent> {
  readonly self: PeerId;
  readonly config: TacConfig;
  readonly counters: TacCounters = {
    exchanges: 0,
    forgedEntries: 0,
    psiAsked: 0,
    psiShared: 0,
    lookupsAsked: 0,
  };
  readonly #hooks: TacHooks;
  readonly #rng: Rng;
  readonly #cluster = new Map<PeerId, Neighbour>();
  /** Peers checked (or being checked), oldest first: a Map keeps insertion order. */
  readonly #checked = new Map<PeerId, boolean>();
  readonly #lonely = new Map<string, { next: number; wait: number }>();
  #period = 0;
  #started = false;

  constructor(self: PeerId, rng: Rng, hooks: TacHooks, config: Partial<TacConfig> = {}) {
    this.self = self;
    this.config = { ...DEFAULT_TAC_CONFIG, ...config };
    this.#hooks = hooks;
    this.#rng = rng;
  }

  /** The cluster view's entries. */
  cluster(): PeerEntry[] {
    return [...this.#cluster.values()].map((n) => n.entry);
  }

  /** Cluster neighbours known to share `domain`. */
  membersOf(domain: string): PeerEntry[] {
    const members: PeerEntry[] = [];
    for (const n of this.#cluster.values()) if (n.shared.includes(domain)) members.push(n.entry);
    return members;
  }

  /** Cluster neighbours per own domain. */
  coverage(): Map<string, number> {
    const counts = new Map<string, number>(this.#hooks.domains.map((d) => [d, 0]));
    for (const n of this.#cluster.values()) for (const d of n.shared) counts.set(d, (counts.get(d) ?? 0) + 1);
    return counts;
  }

  forEachInCluster(visit: (entry: PeerEntry) => void): void {
    for (const n of this.#cluster.values()) visit(n.entry);
  }

  handle(
    input: MachineInput<TacMessage, TacCommand, TacTimer>,
    _now: Millis,
    out: MachineOutput<TacMessage, TacTimer, TacEvent>,
  ): void {
    switch (input.type) {
      case 'timer':
        this.#exchange(out);
        out.setTimer({ type: 'cluster' }, this.config.period);
        return;
      case 'command': {
        const command = input.command;
        if (command.type === 'psiResult') this.#learn(command.entry, command.shared);
        else this.#consider(command.entries, out);
        return;
      }
      case 'peerDown':
        this.#cluster.delete(input.peer);
        return;
      case 'peerUp':
        return;
      case 'message': {
        const { from, message } = input;
        const neighbour = this.#cluster.get(from);
        if (neighbour !== undefined) neighbour.lastHeard = this.#period;
        if (message.type === 'cluster') {
          const initiator = message.entries[0];
          const filter =
            initiator !== undefined && initiator.peer === from ? initiator.filter : this.#hooks.advert.filter;
          out.send(from, { type: 'clusterReply', entries: this.#closestTo(filter, from) });
        }
        this.#rank(message.entries, out);
      }
    }
  }

  /** Starts the periodic exchange (the composite machine calls this once). */
  start(out: MachineOutput<TacMessage, TacTimer, TacEvent>): void {
    if (this.#started) return;
    this.#started = true;
    out.setTimer({ type: 'cluster' }, this.#rng.int(this.config.period) + 1);
  }

  #exchange(out: MachineOutput<TacMessage, TacTimer, TacEvent>): void {
    this.#period++;
    let partner: PeerEntry | undefined;
    let quietest = Number.POSITIVE_INFINITY;
    for (const n of this.#cluster.values()) {
      if (n.lastHeard < quietest) {
        quietest = n.lastHeard;
        partner = n.entry;
      }
    }
    // Half the time a random sampled peer, so a node stuck in a wrong corner still meets new ones.
    if (partner === undefined || this.#rng.next() < 0.5) partner = this.#hooks.samples(1)[0] ?? partner;
    if (partner !== undefined) {
      const known = this.#cluster.get(partner.peer);
      if (known !== undefined) known.lastHeard = this.#period;
      const given = this.cluster()
        .filter((e) => e.peer !== partner?.peer)
        .slice(0, this.config.exchangeSize - 1);
      this.counters.exchanges++;
      out.send(partner.peer, { type: 'cluster', entries: [{ ...this.#hooks.advert, age: 0 }, ...given] });
    }
    this.#rank(this.#hooks.samples(4), out);
    this.#askLookups(out);
  }

  /** The entries this node holds that are most similar to `filter` (not `to`'s own). */
  #closestTo(filter: Uint8Array, to: PeerId): PeerEntry[] {
    const pool = new Map<PeerId, PeerEntry>();
    for (const n of this.#cluster.values()) pool.set(n.entry.peer, n.entry);
    for (const e of this.#hooks.samples(this.config.exchangeSize)) pool.set(e.peer, e);
    pool.delete(to);
    const ranked = [...pool.values()].map((e) => ({ e, s: this.#hooks.similarity(filter, e.filter) }));
    ranked.sort((a, b) => b.s - a.s);
    const reply = ranked.slice(0, this.config.exchangeSize - 1).map((r) => r.e);
    reply.unshift({ ...this.#hooks.advert, age: 0 });
    return reply;
  }

  /** Ranks candidates by similarity to this node and asks for the overlap with the best unchecked ones. */
  #rank(entries: readonly PeerEntry[], out: MachineOutput<TacMessage, TacTimer, TacEvent>): void {
    const own = this.#hooks.advert.filter;
    const fresh: { entry: PeerEntry; score: number }[] = [];
    const max = Math.min(entries.length, this.config.exchangeSize);
    for (let i = 0; i < max; i++) {
      const entry = entries[i] as PeerEntry;
      if (entry.peer === this.self || this.#checked.has(entry.peer) || this.#cluster.has(entry.peer))
        continue;
      if (!this.#hooks.verify(entry)) {
        this.counters.forgedEntries++;
        continue;
      }
      fresh.push({ entry, score: this.#hooks.similarity(own, entry.filter) });
    }
    fresh.sort((a, b) => b.score - a.score);
    for (const { entry } of fresh.slice(0, this.config.psiPerRound)) this.#ask(entry, out);
  }

  #consider(entries: readonly PeerEntry[], out: MachineOutput<TacMessage, TacTimer, TacEvent>): void {
    let asked = 0;
    for (const entry of entries) {
      if (asked >= this.config.psiPerRound) break;
      if (entry.peer === this.self || this.#checked.has(entry.peer) || this.#cluster.has(entry.peer))
        continue;
      if (!this.#hooks.verify(entry)) {
        this.counters.forgedEntries++;
        continue;
      }
      this.#ask(entry, out);
      asked++;
    }
  }

  #ask(entry: PeerEntry, out: MachineOutput<TacMessage, TacTimer, TacEvent>): void {
    this.#remember(entry.peer, false);
    this.counters.psiAsked++;
    out.emit({ type: 'psiWanted', entry });
  }

  #remember(peer: PeerId, shared: boolean): void {
    this.#checked.delete(peer);
    this.#checked.set(peer, shared);
    while (this.#checked.size > this.config.checkedMemory) {
      const oldest = this.#checked.keys().next().value as PeerId;
      this.#checked.delete(oldest);
    }
  }

  #learn(entry: PeerEntry, shared: readonly string[]): void {
    const mine = shared.filter((d) => this.#hooks.domains.includes(d));
    this.#remember(entry.peer, mine.length > 0);
    if (mine.length === 0 || entry.peer === this.self) return;
    this.counters.psiShared++;
    const known = this.#cluster.get(entry.peer);
    if (known !== undefined) {
      known.entry = entry;
      known.shared = mine;
      return;
    }
    const candidate: Neighbour = { entry, shared: mine, lastHeard: this.#period };
    if (this.#cluster.size < this.config.clusterSize) {
      this.#cluster.set(entry.peer, candidate);
      return;
    }
    // Full: the neighbour worth least to the coverage of the node's domains makes room, if the newcomer
    // is worth more (a domain at its `perDomain` quota counts little).
    const coverage = this.coverage();
    const worth = (n: Neighbour, leaving: boolean) => {
      let w = 0;
      for (const d of n.shared) {
        const c = (coverage.get(d) ?? 0) - (leaving ? 1 : 0);
        w += c < this.config.perDomain ? 1 : 1 / (c + 1);
      }
      return w;
    };
    let victim: Neighbour | undefined;
    let least = Number.POSITIVE_INFINITY;
    for (const n of this.#cluster.values()) {
      const w = worth(n, true);
      if (w < least) {
        least = w;
        victim = n;
      }
    }
    if (victim !== undefined && worth(candidate, false) > least) {
      this.#cluster.delete(victim.entry.peer);
      this.#cluster.set(entry.peer, candidate);
    }
  }

  #askLookups(out: MachineOutput<TacMessage, TacTimer, TacEvent>): void {
    for (const [domain, count] of this.coverage()) {
      if (count > 0) {
        this.#lonely.delete(domain);
        continue;
      }
      // Asked after `lookupAfter` periods alone, then after twice as long each time: a domain with no
      // other participating member costs a lookup now and then, not one every few periods.
      const state = this.#lonely.get(domain) ?? { next: this.#period + this.config.lookupAfter, wait: 0 };
      this.#lonely.set(domain, state);
      if (this.#period >= state.next) {
        state.wait = Math.max(this.config.lookupAfter, state.wait * 2);
        state.next = this.#period + state.wait;
        this.counters.lookupsAsked++;
        out.emit({ type: 'lookupWanted', domain });
      }
    }
  }
}
