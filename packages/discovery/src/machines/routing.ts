import type { Machine, MachineInput, MachineOutput, Millis, PeerId, Rng } from '@netmachine/overlay';
import {
  type AnnounceMessage,
  DISCOVERY_LIMITS,
  type LookupMessage,
  type PeerEntry,
  type RoutingMessage,
} from './messages.js';
import { DomainPointers } from './routing-pointers.js';
import {
  DEFAULT_ROUTING_CONFIG,
  type RoutingCommand,
  type RoutingConfig,
  type RoutingCounters,
  type RoutingEvent,
  type RoutingHooks,
  type RoutingTimer,
} from './routing-types.js';

// Domain routing: a lookup for the members of a domain, routed greedily. The origin sends the lookup to
// the `parallel` peers it knows (TAPS view, URPS sample memory, TAC cluster) whose domain filters are
// most similar to the domain's filter; each node on the way answers if it is a member, and otherwise
// forwards to the most similar peer it knows that is not on the recorded path (nor taken by another
// walk of the same lookup through this node). A member answers the
// origin directly with its own entry and the cluster neighbours it shares the domain with. Bounded
// everywhere: the path is at most `hopLimit` long, a node forwards at most `maxForwardsPerPeriod`
// lookups a period, remembers the last `seenMemory` lookup ids (and the next hops taken for each), and keeps at
// most `maxPending` lookups of its own. A lookup unanswered after `timeout` is tried again, avoiding the
// first hops already tried, up to `attempts` times.
//
// Small domains are hard to find by similarity alone (one member among thousands, its flipped filter
// maybe missing a bit of the domain's). So a member of a domain that fewer than `announceBelow` of its
// cluster neighbours share announces itself every `announcePeriod`: `announceWalks` greedy walks of
// `announceHops` hops toward the domain's filter, each node on the way keeping a pointer (the member's
// signed entry) for `pointerTtl`. Those are the nodes a lookup's greedy walk is drawn to, and a node
// holding a pointer answers for the domain. The price: the nodes on an announce walk learn that its
// origin is a member of the domain (`announcePeriod: 0` turns announcing off).

interface Pending {
  readonly domain: string;
  readonly target: Uint8Array;
  attempt: number;
  readonly tried: Set<PeerId>;
}

export class DomainRouter implements Machine<RoutingMessage, RoutingCommand, RoutingTimer, RoutingEvent> {
  readonly self: PeerId;
  readonly config: RoutingConfig;
  readonly counters: RoutingCounters = {
    started: 0,
    forwarded: 0,
    answered: 0,
    loops: 0,
    duplicates: 0,
    refused: 0,
    hopLimitReached: 0,
    deadEnds: 0,
    strayAnswers: 0,
    forgedEntries: 0,
    pendingFull: 0,
    announced: 0,
    pointersTaken: 0,
    answeredByPointer: 0,
  };
  readonly #hooks: RoutingHooks;
  readonly #rng: Rng;
  readonly #pending = new Map<string, Pending>();
  /** Lookups seen lately, with the next hops already taken for each. */
  readonly #seen = new Map<string, Set<PeerId>>();
  readonly #pointers: DomainPointers;
  readonly #hopLimit: number;
  #budget: number;
  #budgetTimer = false;
  #announcing = false;

  constructor(self: PeerId, rng: Rng, hooks: RoutingHooks, config: Partial<RoutingConfig> = {}) {
    this.self = self;
    this.config = { ...DEFAULT_ROUTING_CONFIG, ...config };
    this.#hooks = hooks;
    this.#rng = rng;
    this.#hopLimit = Math.min(this.config.hopLimit, DISCOVERY_LIMITS.maxPath - 1);
    this.#pointers = new DomainPointers(this.config);
    this.#budget = this.config.maxForwardsPerPeriod;
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** Starts announcing (the node joined); idempotent. */
  start(out: MachineOutput<RoutingMessage, RoutingTimer, RoutingEvent>): void {
    if (this.#announcing || this.config.announcePeriod <= 0) return;
    this.#announcing = true;
    // After a first period, so that TAC has had a chance to find the domain's other members.
    out.setTimer(
      { type: 'announce' },
      this.config.announcePeriod + this.#rng.int(Math.max(1, Math.floor(this.config.announcePeriod))),
    );
  }

  handle(
    input: MachineInput<RoutingMessage, RoutingCommand, RoutingTimer>,
    now: Millis,
    out: MachineOutput<RoutingMessage, RoutingTimer, RoutingEvent>,
  ): void {
    switch (input.type) {
      case 'command':
        this.#start(input.command.id, input.command.domain, input.command.others === true, out);
        return;
      case 'timer': {
        const timer = input.timer;
        if (timer.type === 'budget') {
          this.#budget = this.config.maxForwardsPerPeriod;
          this.#budgetTimer = false;
          return;
        }
        if (timer.type === 'announce') {
          this.#announce(out);
          out.setTimer({ type: 'announce' }, this.config.announcePeriod);
          return;
        }
        const pending = this.#pending.get(timer.id);
        if (pending === undefined || pending.attempt !== timer.attempt) return;
        if (pending.attempt >= this.config.attempts) {
          this.#pending.delete(timer.id);
          out.emit({ type: 'lookupFailed', id: timer.id, domain: pending.domain, reason: 'no answer' });
          return;
        }
        pending.attempt++;
        this.#launch(timer.id, pending, out);
        return;
      }
      case 'peerUp':
      case 'peerDown':
        return;
      case 'message': {
        const message = input.message;
        if (message.type === 'lookup') this.#forward(message, now, out);
        else if (message.type === 'announce') this.#takeAnnounce(message, now, out);
        else this.#answer(message.id, message.members, message.path, out);
      }
    }
  }

  #start(
    id: string,
    domain: string,
    others: boolean,
    out: MachineOutput<RoutingMessage, RoutingTimer, RoutingEvent>,
  ): void {
    if (this.#pending.has(id)) return;
    if (this.#pending.size >= this.config.maxPending) {
      this.counters.pendingFull++;
      out.emit({ type: 'lookupFailed', id, domain, reason: 'too many lookups in flight' });
      return;
    }
    this.counters.started++;
    if (!others && this.#hooks.domains.includes(domain)) {
      const members = [{ ...this.#hooks.advert, age: 0 }, ...this.#hooks.membersOf(domain)];
      out.emit({ type: 'lookupResult', id, domain, members, hops: 0, path: [this.self] });
      return;
    }
    const pending: Pending = {
      domain,
      target: this.#hooks.domainFilter(domain),
      attempt: 1,
      tried: new Set(),
    };
    this.#pending.set(id, pending);
    this.#launch(id, pending, out);
  }

  #launch(
    id: string,
    pending: Pending,
    out: MachineOutput<RoutingMessage, RoutingTimer, RoutingEvent>,
  ): void {
    const next = this.#best(pending.target, pending.tried, this.config.parallel);
    for (const peer of next) {
      pending.tried.add(peer);
      out.send(peer, {
        type: 'lookup',
        id,
        domain: pending.domain,
        target: pending.target,
        path: [this.self],
      });
    }
    out.setTimer({ type: 'lookupTimeout', id, attempt: pending.attempt }, this.config.timeout);
  }

  /** The `count` known peers most similar to `target`, none in `exclude`; ties broken at random. */
  #best(target: Uint8Array, exclude: ReadonlySet<PeerId>, count: number): PeerId[] {
    const scored: { peer: PeerId; score: number }[] = [];
    const seen = new Set<PeerId>();
    this.#hooks.candidates((entry) => {
      if (entry.peer === this.self || exclude.has(entry.peer) || seen.has(entry.peer)) return;
      seen.add(entry.peer);
      scored.push({
        peer: entry.peer,
        score: this.#hooks.similarity(entry.filter, target) + this.#rng.next() * 1e-9,
      });
    });
    scored.sort((a, b) => b.score - a.score);
    return scored.slice(0, count).map((s) => s.peer);
  }

  #announce(out: MachineOutput<RoutingMessage, RoutingTimer, RoutingEvent>): void {
    for (const domain of this.#hooks.domains) {
      if (this.#hooks.membersOf(domain).length >= this.config.announceBelow) continue;
      const target = this.#hooks.domainFilter(domain);
      const entry = { ...this.#hooks.advert, age: 0 };
      for (const peer of this.#best(target, new Set(), this.config.announceWalks)) {
        this.counters.announced++;
        out.send(peer, { type: 'announce', domain, target, entry, path: [this.self] });
      }
    }
  }

  #takeAnnounce(
    message: AnnounceMessage,
    now: Millis,
    out: MachineOutput<RoutingMessage, RoutingTimer, RoutingEvent>,
  ): void {
    if (message.path.includes(this.self)) {
      this.counters.loops++;
      return;
    }
    const member = message.entry;
    if (member.peer !== message.path[0] || !this.#hooks.verify(member)) {
      this.counters.forgedEntries++;
      return;
    }
    if (this.#budget <= 0) {
      this.counters.refused++;
      return;
    }
    this.#spend(out);
    this.counters.pointersTaken++;
    this.#pointers.take(message.domain, member, now);
    const path = [...message.path, this.self];
    if (path.length > Math.min(this.config.announceHops, this.#hopLimit)) return;
    const [next] = this.#best(message.target, new Set(path), 1);
    if (next !== undefined) out.send(next, { ...message, path });
  }

  #spend(out: MachineOutput<RoutingMessage, RoutingTimer, RoutingEvent>): void {
    this.#budget--;
    if (!this.#budgetTimer) {
      this.#budgetTimer = true;
      out.setTimer({ type: 'budget' }, this.config.period);
    }
  }

  #forward(
    message: LookupMessage,
    now: Millis,
    out: MachineOutput<RoutingMessage, RoutingTimer, RoutingEvent>,
  ): void {
    if (message.path.includes(this.self)) {
      this.counters.loops++;
      return;
    }
    // A second walk of the same lookup through this node goes on to a peer the first did not take.
    let used = this.#seen.get(message.id);
    const duplicate = used !== undefined;
    if (used === undefined) {
      used = new Set();
      this.#seen.set(message.id, used);
      if (this.#seen.size > this.config.seenMemory)
        this.#seen.delete(this.#seen.keys().next().value as string);
    } else {
      this.counters.duplicates++;
    }
    const path = [...message.path, this.self];
    const origin = message.path[0] as PeerId;
    if (this.#hooks.domains.includes(message.domain)) {
      if (duplicate) return; // answered already
      this.counters.answered++;
      const members = [{ ...this.#hooks.advert, age: 0 }, ...this.#hooks.membersOf(message.domain)].slice(
        0,
        this.config.maxMembers,
      );
      out.send(origin, { type: 'lookupReply', id: message.id, domain: message.domain, members, path });
      return;
    }
    const pointed = this.#pointers.live(message.domain, now, origin);
    if (pointed.length > 0) {
      if (duplicate) return; // answered already
      this.counters.answeredByPointer++;
      const members = pointed.slice(0, this.config.maxMembers);
      out.send(origin, { type: 'lookupReply', id: message.id, domain: message.domain, members, path });
      return;
    }
    if (path.length > this.#hopLimit) {
      this.counters.hopLimitReached++;
      return;
    }
    if (this.#budget <= 0) {
      this.counters.refused++;
      return;
    }
    this.#spend(out);
    const exclude = new Set(path);
    for (const peer of used) exclude.add(peer);
    const [next] = this.#best(message.target, exclude, 1);
    if (next === undefined) {
      this.counters.deadEnds++;
      return;
    }
    used.add(next);
    this.counters.forwarded++;
    out.send(next, { ...message, path });
  }

  #answer(
    id: string,
    members: readonly PeerEntry[],
    path: readonly PeerId[],
    out: MachineOutput<RoutingMessage, RoutingTimer, RoutingEvent>,
  ): void {
    const pending = this.#pending.get(id);
    if (pending === undefined || path[0] !== this.self) {
      this.counters.strayAnswers++;
      return;
    }
    const good = members.filter((m) => {
      const ok = this.#hooks.verify(m);
      if (!ok) this.counters.forgedEntries++;
      return ok;
    });
    if (good.length === 0) return;
    this.#pending.delete(id);
    out.emit({
      type: 'lookupResult',
      id,
      domain: pending.domain,
      members: good,
      hops: path.length - 1,
      path,
    });
  }
}
