import type { Machine, MachineInput, MachineOutput, Millis, PeerId, Rng } from '@netmachine/overlay';
import type { PeerEntry, TapsMessage } from './messages.js';
import { UniformSampler, type UniformSamplerConfig } from './urps.js';

// TAPS: trust-aware peer sampling. A Cyclon-style view exchange (Voulgaris, Gavidia, van Steen 2005):
// every period the node ages its view, picks an exchange partner, and sends it its own fresh entry and a
// sample of its view; the partner answers with its own entry and a sample of its view, and both merge
// what they got in place of what they gave away. Trust weighs every step:
//  - only a directly trusted peer relays third parties: from anyone else only the sender's own entry is
//    taken, so a colluder can advertise nothing but itself;
//  - what one trusted peer relayed holds at most `perRelayQuota` view slots (a colluder holding a trust
//    edge cannot fill the view), and directly trusted peers are never evicted;
//  - entries learned from strangers hold at most `untrustedShare` of the view and are never passed on
//    (they would become trusted at the receiver), so pushes can neither fill the view (the eclipse
//    attack) nor spread;
//  - the exchange partner is, three times in four, the oldest directly trusted peer;
//  - strangers' offers are answered at most `maxOffersPerPeriod` times a period (the rest refused and
//    counted), and only the first `strangersPerPeriod` offerers' own entries are taken;
//  - every entry is checked with the `verify` hook (its advert's signature): forged ones are counted and
//    dropped before anything else looks at them; ids URPS flags as over-represented are not kept as
//    trusted.
// The trusted flow (relays of trusted peers, and trusted peers themselves) feeds URPS, whose sample
// memory is the node's output, and the routing directory. With `trustAware: false` and `urps: false` the
// machine is plain Cyclon (the baseline of the simulation).

export interface TapsConfig {
  /** Entries in the view. */
  readonly viewSize: number;
  /** Entries given in one exchange (the initiator's own entry included). */
  readonly exchangeSize: number;
  /** Gossip period (ms). */
  readonly period: Millis;
  /** Trust at or above which a peer counts as trusted (trust is in [0, 1]). */
  readonly trustThreshold: number;
  /** Largest fraction of the view that entries learned from untrusted peers may hold. */
  readonly untrustedShare: number;
  /** Exchange offers from untrusted peers answered per period; more are refused (a flood bound). */
  readonly maxOffersPerPeriod: number;
  /** Untrusted offerers per period whose own entry may enter the view. */
  readonly strangersPerPeriod: number;
  /**
   * Most view slots holding third parties one trusted peer relayed: no single peer, however trusted,
   * holds more than this share of the view (a colluder with a trust edge cannot flood it).
   */
  readonly perRelayQuota: number;
  /** False: plain Cyclon, trust ignored (for comparison). */
  readonly trustAware: boolean;
  /** The URPS sampler over the stream of ids, or false for none (samples then come from the view). */
  readonly urps: Partial<UniformSamplerConfig> | false;
  /** Entries of the trusted stream remembered for routing (most recently seen kept). */
  readonly knownSize: number;
}

export const DEFAULT_TAPS_CONFIG: TapsConfig = {
  viewSize: 20,
  exchangeSize: 8,
  period: 1000,
  trustThreshold: 0.5,
  untrustedShare: 0.25,
  maxOffersPerPeriod: 32,
  strangersPerPeriod: 2,
  perRelayQuota: 3,
  trustAware: true,
  urps: {},
  knownSize: 512,
};

export interface TapsHooks {
  /** This node's own entry (its signed advert); its `age` is ignored. */
  readonly advert: PeerEntry;
  /** True when the entry's signature is good (the advert is the peer's own). */
  readonly verify: (entry: PeerEntry) => boolean;
  /** The node's trust in a peer, in [0, 1] (the identity store's, on a node). */
  readonly trust: (peer: PeerId) => number;
}

/** `join`: bootstrap entries (from the application: trusted contacts, the directory). */
export type TapsCommand = { readonly type: 'join'; readonly entries: readonly PeerEntry[] };
export type TapsTimer = { readonly type: 'shuffle' };
export type TapsEvent = never;

export interface TapsCounters {
  exchanges: number;
  offersAnswered: number;
  /** Offers from untrusted peers beyond `maxOffersPerPeriod` in a period. */
  offersRefused: number;
  /** Replies from a peer the node had no exchange pending with. */
  unsolicitedReplies: number;
  /** Entries whose signature `verify` rejected. */
  forgedEntries: number;
  /** Untrusted entries dropped because their share of the view was full. */
  untrustedDropped: number;
  /** Entries about third parties from untrusted senders, ignored. */
  strangerRelaysIgnored: number;
}

interface Slot {
  entry: PeerEntry;
  age: number;
  trusted: boolean;
  /** The trusted peer that relayed the entry (undefined: first-hand, or the peer is trusted itself). */
  via: PeerId | undefined;
}

export class Taps implements Machine<TapsMessage, TapsCommand, TapsTimer, TapsEvent> {
  readonly self: PeerId;
  readonly config: TapsConfig;
  readonly counters: TapsCounters = {
    exchanges: 0,
    offersAnswered: 0,
    offersRefused: 0,
    unsolicitedReplies: 0,
    forgedEntries: 0,
    untrustedDropped: 0,
    strangerRelaysIgnored: 0,
  };
  readonly sampler: UniformSampler<PeerEntry> | undefined;
  readonly #hooks: TapsHooks;
  readonly #rng: Rng;
  readonly #view: Slot[] = [];
  readonly #index = new Map<PeerId, Slot>();
  readonly #untrustedCap: number;
  /** The routing directory: recently seen entries of the trusted stream, oldest first. */
  readonly #known = new Map<PeerId, PeerEntry>();
  #pending: { readonly partner: PeerId; readonly sent: readonly PeerId[] } | undefined;
  #offersThisPeriod = 0;
  #strangersThisPeriod = 0;
  #started = false;

  constructor(self: PeerId, rng: Rng, hooks: TapsHooks, config: Partial<TapsConfig> = {}) {
    this.self = self;
    this.config = { ...DEFAULT_TAPS_CONFIG, ...config };
    this.#hooks = hooks;
    this.#rng = rng;
    this.#untrustedCap = this.config.trustAware
      ? Math.floor(this.config.viewSize * this.config.untrustedShare)
      : this.config.viewSize;
    this.sampler = this.config.urps === false ? undefined : new UniformSampler(rng, this.config.urps);
  }

  /** The view's entries (ages as now). */
  view(): PeerEntry[] {
    return this.#view.map((slot) => ({ ...slot.entry, age: slot.age }));
  }

  /** How many view slots were learned from untrusted peers. */
  get untrustedInView(): number {
    let n = 0;
    for (const slot of this.#view) if (!slot.trusted) n++;
    return n;
  }

  /** Every peer in the view, without copying. */
  forEachInView(visit: (entry: PeerEntry) => void): void {
    for (const slot of this.#view) visit(slot.entry);
  }

  /** Every entry of the routing directory (recently seen in the trusted stream), without copying. */
  forEachKnown(visit: (entry: PeerEntry) => void): void {
    for (const entry of this.#known.values()) visit(entry);
  }

  #remember(entry: PeerEntry): void {
    if (this.config.knownSize <= 0) return;
    this.#known.delete(entry.peer);
    this.#known.set(entry.peer, entry);
    if (this.#known.size > this.config.knownSize)
      this.#known.delete(this.#known.keys().next().value as PeerId);
  }

  /** One peer sample: from URPS when it runs, else a random view entry. */
  sample(): PeerEntry | undefined {
    if (this.sampler !== undefined) return this.sampler.sample()?.item;
    const slot = this.#view[this.#rng.int(Math.max(1, this.#view.length))];
    return slot?.entry;
  }

  handle(
    input: MachineInput<TapsMessage, TapsCommand, TapsTimer>,
    _now: Millis,
    out: MachineOutput<TapsMessage, TapsTimer, TapsEvent>,
  ): void {
    switch (input.type) {
      case 'command':
        this.#merge(input.command.entries, undefined, []);
        if (!this.#started) {
          this.#started = true;
          // A random phase, so that nodes started together do not exchange in lockstep.
          out.setTimer({ type: 'shuffle' }, this.#rng.int(this.config.period) + 1);
        }
        return;
      case 'timer':
        this.#exchange(out);
        out.setTimer({ type: 'shuffle' }, this.config.period);
        return;
      case 'peerDown':
        this.#drop(input.peer);
        this.#known.delete(input.peer);
        this.sampler?.remove(input.peer);
        return;
      case 'peerUp':
        return;
      case 'message':
        if (input.message.type === 'shuffle') this.#answer(input.from, input.message.entries, out);
        else this.#reply(input.from, input.message.entries);
    }
  }

  #trusted(peer: PeerId): boolean {
    return this.#hooks.trust(peer) >= this.config.trustThreshold;
  }

  #exchange(out: MachineOutput<TapsMessage, TapsTimer, TapsEvent>): void {
    this.#offersThisPeriod = 0;
    this.#strangersThisPeriod = 0;
    for (const slot of this.#view) slot.age++;
    const partner = this.#pickPartner();
    if (partner === undefined) return;
    // Cyclon drops the partner (its answer brings a fresh entry of it); a directly trusted peer stays.
    if (this.config.trustAware && this.#trusted(partner.entry.peer)) partner.age = 0;
    else this.#drop(partner.entry.peer);
    const given = this.#give(this.config.exchangeSize - 1, partner.entry.peer);
    this.#pending = { partner: partner.entry.peer, sent: given.map((e) => e.peer) };
    this.counters.exchanges++;
    out.send(partner.entry.peer, { type: 'shuffle', entries: [{ ...this.#hooks.advert, age: 0 }, ...given] });
  }

  #pickPartner(): Slot | undefined {
    let oldest: Slot | undefined;
    let oldestTrusted: Slot | undefined;
    for (const slot of this.#view) {
      if (oldest === undefined || slot.age > oldest.age) oldest = slot;
      const direct = this.config.trustAware && this.#trusted(slot.entry.peer);
      if (direct && (oldestTrusted === undefined || slot.age > oldestTrusted.age)) oldestTrusted = slot;
    }
    // Mostly a directly trusted peer: only they relay third parties' entries.
    if (oldestTrusted !== undefined && this.#rng.next() < 0.75) return oldestTrusted;
    return oldest;
  }

  /** Up to `count` entries to give away (never `to` itself): only trusted slots when trust-aware. */
  #give(count: number, to: PeerId): PeerEntry[] {
    const trusted: Slot[] = [];
    for (const slot of this.#view) {
      if (slot.entry.peer === to) continue;
      if (slot.trusted || !this.config.trustAware) trusted.push(slot);
    }
    // Entries learned from strangers are never passed on: they would become trusted at the receiver.
    const chosen = takeRandom(this.#rng, trusted, count);
    return chosen.map((slot) => ({ ...slot.entry, age: slot.age }));
  }

  #answer(
    from: PeerId,
    entries: readonly PeerEntry[],
    out: MachineOutput<TapsMessage, TapsTimer, TapsEvent>,
  ): void {
    const trusted = this.#trusted(from);
    if (this.config.trustAware && !trusted) {
      if (this.#offersThisPeriod >= this.config.maxOffersPerPeriod) {
        this.counters.offersRefused++;
        return;
      }
      this.#offersThisPeriod++;
    }
    this.counters.offersAnswered++;
    const given = this.#give(this.config.exchangeSize - 1, from);
    out.send(from, { type: 'shuffleReply', entries: [{ ...this.#hooks.advert, age: 0 }, ...given] });
    // A stranger's own entry is taken from the first few strangers a period only.
    if (this.config.trustAware && !trusted) {
      if (this.#strangersThisPeriod >= this.config.strangersPerPeriod) return;
      this.#strangersThisPeriod++;
    }
    this.#merge(
      entries,
      from,
      given.map((e) => e.peer),
    );
  }

  #reply(from: PeerId, entries: readonly PeerEntry[]): void {
    const pending = this.#pending;
    if (pending === undefined || pending.partner !== from) {
      this.counters.unsolicitedReplies++;
      return;
    }
    this.#pending = undefined;
    this.#merge(entries, from, pending.sent);
  }

  /**
   * Merges received entries; `sent` are the ids given away in this exchange, replaced first. From an
   * untrusted sender only its own entry is taken: what a stranger says about third parties is ignored,
   * so colluders can advertise only themselves, one entry per exchange a correct node grants them.
   */
  #merge(entries: readonly PeerEntry[], sender: PeerId | undefined, sent: readonly PeerId[]): void {
    const fromTrusted = !this.config.trustAware || (sender !== undefined && this.#trusted(sender));
    const max = Math.min(entries.length, this.config.exchangeSize);
    let sentAt = 0;
    for (let i = 0; i < max; i++) {
      const entry = entries[i] as PeerEntry;
      if (entry.peer === this.self) continue;
      if (sender !== undefined && !fromTrusted && entry.peer !== sender) {
        this.counters.strangerRelaysIgnored++;
        continue;
      }
      if (!this.#hooks.verify(entry)) {
        this.counters.forgedEntries++;
        continue;
      }
      // URPS sees the trusted flow: what trusted peers relay, and trusted peers themselves. A stranger's
      // own entry may enter the view (it can be an exchange partner) but not the samples.
      if (fromTrusted || sender === undefined || this.#trusted(entry.peer)) {
        this.sampler?.offer(entry.peer, entry);
        this.#remember(entry);
      }
      // A third party's id seen far more often than others is someone pushing hard: never relayed.
      const direct = this.#trusted(entry.peer);
      const overRepresented =
        this.config.trustAware && !direct && this.sampler?.isOverRepresented(entry.peer) === true;
      const trusted = direct || (fromTrusted && !overRepresented);
      const present = this.#index.get(entry.peer);
      if (present !== undefined) {
        if (entry.age < present.age) {
          present.entry = entry;
          present.age = entry.age;
        }
        present.trusted = direct || (!overRepresented && (present.trusted || trusted));
        continue;
      }
      const via = trusted && !direct && sender !== undefined && this.config.trustAware ? sender : undefined;
      const slot: Slot = { entry, age: entry.age, trusted, via };
      if (via !== undefined) {
        const same = this.#view.filter((s) => s.via === via);
        if (same.length >= this.config.perRelayQuota) {
          this.#replace(same[this.#rng.int(same.length)] as Slot, slot);
          continue;
        }
      }
      if (!trusted && this.untrustedInView >= this.#untrustedCap) {
        // Only another untrusted slot may make room.
        const victim = this.#firstSent(sent, sentAt, true);
        if (victim !== undefined) {
          sentAt = victim.next;
          this.#replace(victim.slot, slot);
        } else {
          const untrusted = this.#view.filter((s) => !s.trusted);
          const evict = untrusted[this.#rng.int(Math.max(1, untrusted.length))];
          if (evict !== undefined) this.#replace(evict, slot);
          else this.counters.untrustedDropped++;
        }
        continue;
      }
      if (this.#view.length < this.config.viewSize) {
        this.#add(slot);
        continue;
      }
      const victim = this.#firstSent(sent, sentAt, !trusted);
      if (victim !== undefined) {
        sentAt = victim.next;
        this.#replace(victim.slot, slot);
      } else if (trusted && this.config.trustAware) {
        const untrusted = this.#view.filter((s) => !s.trusted || (direct && !this.#pinned(s)));
        const evict = untrusted[this.#rng.int(Math.max(1, untrusted.length))];
        if (evict !== undefined) this.#replace(evict, slot);
      }
    }
  }

  /** The first slot still in the view among `sent` from position `from` (untrusted ones only if asked). */
  #firstSent(
    sent: readonly PeerId[],
    from: number,
    untrustedOnly: boolean,
  ): { slot: Slot; next: number } | undefined {
    for (let i = from; i < sent.length; i++) {
      const slot = this.#index.get(sent[i] as PeerId);
      if (slot !== undefined && !this.#pinned(slot) && (!untrustedOnly || !slot.trusted))
        return { slot, next: i + 1 };
    }
    return undefined;
  }

  /** Directly trusted peers stay in the view: they are the only relays of third parties' entries. */
  #pinned(slot: Slot): boolean {
    return this.config.trustAware && slot.trusted && slot.via === undefined && this.#trusted(slot.entry.peer);
  }

  #add(slot: Slot): void {
    this.#view.push(slot);
    this.#index.set(slot.entry.peer, slot);
  }

  #replace(old: Slot, slot: Slot): void {
    const i = this.#view.indexOf(old);
    this.#index.delete(old.entry.peer);
    this.#view[i] = slot;
    this.#index.set(slot.entry.peer, slot);
  }

  #drop(peer: PeerId): void {
    const slot = this.#index.get(peer);
    if (slot === undefined) return;
    this.#index.delete(peer);
    this.#view.splice(this.#view.indexOf(slot), 1);
  }
}

/** Up to `count` distinct random items of `items` (which it reorders). */
function takeRandom<T>(rng: Rng, items: T[], count: number): T[] {
  const n = Math.min(count, items.length);
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(items.length - i);
    const tmp = items[i] as T;
    items[i] = items[j] as T;
    items[j] = tmp;
  }
  return items.slice(0, n);
}
