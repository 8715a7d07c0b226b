import { HyParViewLabel, LABEL_SETTLE_TICKS } from './hyparview-label.js';
import {
  type ComponentLabel,
  decodeHyParViewMessage,
  HYPARVIEW_LIMITS,
  HYPARVIEW_PROTOCOL,
  type HyParViewMessage,
} from './hyparview-messages.js';
import type {
  Machine,
  MachineInput,
  MachineOutput,
  Millis,
  PeerId,
  ProtocolDefinition,
  Rng,
} from './protocol.js';

// HyParView (Leitão, Pereira, Rodrigues, DSN 2007): a small active view of live connections, symmetric
// between neighbours, and a larger passive view of addresses kept fresh by shuffles and used to repair the
// active view when a neighbour fails.

export interface HyParViewConfig {
  /** Active view size (live connections). */
  readonly activeViewCapacity: number;
  /** Passive view size (known addresses). */
  readonly passiveViewCapacity: number;
  /** Active random walk length (ARWL): hops a ForwardJoin travels. */
  readonly activeRandomWalkLength: number;
  /** Passive random walk length (PRWL): at this remaining TTL a ForwardJoin also lands in the passive view. */
  readonly passiveRandomWalkLength: number;
  /** Hops a Shuffle travels. */
  readonly shuffleRandomWalkLength: number;
  /** Active peers (ka) and passive peers (kp) sent in a Shuffle, besides the sender itself. */
  readonly shuffleActiveCount: number;
  readonly shufflePassiveCount: number;
  /** Mean time between shuffles; each period is drawn from [0.5, 1.5) × this, so nodes do not synchronise. */
  readonly shuffleInterval: Millis;
  /** How often a node whose active view is below capacity asks passive peers to become neighbours. */
  readonly repairInterval: Millis;
  /** How long a Neighbor request may stay unanswered before the peer is presumed gone. */
  readonly neighborTimeout: Millis;
  /** How long a joining node waits for its first neighbour before it sends Join again. */
  readonly joinTimeout: Millis;
  /** Low-priority Neighbor requests a full node still takes, beyond `activeViewCapacity`. */
  readonly overflowSlots: number;
  /** Low-priority requests rejected in a row before a node below capacity asks with high priority. */
  readonly rejectionsBeforeHighPriority: number;
  /**
   * Label components and probe a passive peer on each shuffle tick; a peer found in another component is
   * asked to bridge the two. Off, a split whose nodes are all full is never repaired.
   */
  readonly componentProbes: boolean;
  /**
   * The first shuffle periods after start, and again after a neighbour is lost once the last such
   * schedule has run out, before `shuffleInterval` takes over (each drawn from [0.5, 1.5) × its value,
   * like the normal period). Labels settle, probes run and the root's epoch advances on every tick, so
   * a split that forms while nodes join at once, or when links are lost, is found within seconds, not
   * shuffle periods. Empty: the normal period throughout.
   */
  readonly startupShuffleIntervals: readonly Millis[];
}

export const DEFAULT_HYPARVIEW_CONFIG: HyParViewConfig = {
  activeViewCapacity: 5,
  passiveViewCapacity: 30,
  activeRandomWalkLength: 6,
  passiveRandomWalkLength: 3,
  shuffleRandomWalkLength: 6,
  shuffleActiveCount: 3,
  shufflePassiveCount: 4,
  shuffleInterval: 10_000,
  repairInterval: 2_000,
  neighborTimeout: 5_000,
  joinTimeout: 5_000,
  overflowSlots: 1,
  rejectionsBeforeHighPriority: 8,
  componentProbes: true,
  startupShuffleIntervals: [250, 500, 1_000, 2_000, 4_000, 8_000],
};

export type HyParViewCommand =
  /** Join the overlay through `contact` (a node already in it). */
  | { readonly type: 'join'; readonly contact: PeerId }
  /** Leave: tell every active neighbour, then forget both views. */
  | { readonly type: 'leave' };

export type HyParViewTimer =
  /** A shuffle tick; one of an older `round` (the schedule restarted since) is ignored. */
  | { readonly type: 'shuffle'; readonly round?: number }
  | { readonly type: 'repair' }
  | { readonly type: 'join'; readonly attempt: number }
  | { readonly type: 'neighborTimeout'; readonly peer: PeerId; readonly request: number };

export type HyParViewEvent =
  | { readonly type: 'peerAddedToView'; readonly peer: PeerId }
  | { readonly type: 'peerRemovedFromView'; readonly peer: PeerId };

export type HyParViewOutput = MachineOutput<HyParViewMessage, HyParViewTimer, HyParViewEvent>;
export type HyParViewInput = MachineInput<HyParViewMessage, HyParViewCommand, HyParViewTimer>;

export class HyParView
  implements Machine<HyParViewMessage, HyParViewCommand, HyParViewTimer, HyParViewEvent>
{
  readonly self: PeerId;
  readonly config: HyParViewConfig;
  readonly #rng: Rng;
  readonly #active: PeerId[] = [];
  readonly #passive: PeerId[] = [];
  /** Neighbor requests in flight: peer → request number (a stale timeout names an older number). */
  readonly #pending = new Map<PeerId, { readonly request: number; readonly bridge: boolean }>();
  #requests = 0;
  #timersArmed = false;
  #repairArmed = false;
  /** The contact of a join not yet answered, and which attempt it is. */
  #joining: { contact: PeerId; attempt: number } | undefined;
  /** Neighbor requests rejected since the active view last grew. */
  #rejections = 0;
  /** What the last Shuffle sent, preferred for eviction when its reply arrives. */
  #lastShuffle: readonly PeerId[] = [];
  #left = false;
  /** The time of the input being handled. */
  #now: Millis = 0;
  readonly #label: HyParViewLabel;
  /** Shuffle ticks to wait before the next bridge. */
  #bridgeCooldown = 0;
  #bridges = 0;
  #probes = 0;
  /** Shuffle ticks since the schedule last (re)started (indexes `startupShuffleIntervals`). */
  #ticks = 0;
  /** The shuffle schedule's round: a restart starts a new one and orphans the pending tick. */
  #round = 0;
  /** When the short schedule last restarted after a loss. */
  #quickenedAt = Number.NEGATIVE_INFINITY;

  constructor(self: PeerId, rng: Rng, config: Partial<HyParViewConfig> = {}) {
    this.self = self;
    this.#rng = rng;
    this.config = { ...DEFAULT_HYPARVIEW_CONFIG, ...config };
    if (this.config.activeViewCapacity < 1 || this.config.passiveViewCapacity < 1) {
      throw new RangeError('view capacities must be at least 1');
    }
    if (!Number.isInteger(this.config.overflowSlots) || this.config.overflowSlots < 0) {
      throw new RangeError('overflowSlots must be an integer ≥ 0');
    }
    this.#label = new HyParViewLabel(self);
  }

  /** The component label as this node knows it: the root's peer id and epoch. */
  componentLabel(): { readonly root: PeerId; readonly epoch: number } {
    return this.#label.fields();
  }

  /** Probes sent and bridges asked for, since start. */
  counters(): { readonly probes: number; readonly bridges: number } {
    return { probes: this.#probes, bridges: this.#bridges };
  }

  /** The active view (a copy). */
  activeView(): PeerId[] {
    return [...this.#active];
  }

  /** The passive view (a copy). */
  passiveView(): PeerId[] {
    return [...this.#passive];
  }

  /** Calls `fn` on each active peer without copying (for drivers that measure thousands of machines). */
  forEachActive(fn: (peer: PeerId) => void): void {
    for (const peer of this.#active) fn(peer);
  }

  get activeSize(): number {
    return this.#active.length;
  }

  get passiveSize(): number {
    return this.#passive.length;
  }

  handle(input: HyParViewInput, now: Millis, out: HyParViewOutput): void {
    if (this.#left) return;
    this.#now = now;
    if (!this.#timersArmed) this.#armTimers(out);
    switch (input.type) {
      case 'message':
        this.#onMessage(input.from, input.message, out);
        return;
      case 'timer':
        this.#onTimer(input.timer, out);
        return;
      case 'peerUp':
        return; // a connection alone changes nothing: neighbours are made by Neighbor messages
      case 'peerDown':
        this.#onPeerDown(input.peer, out);
        return;
      case 'command':
        this.#onCommand(input.command, out);
        return;
    }
  }

  #armTimers(out: HyParViewOutput): void {
    this.#timersArmed = true;
    out.setTimer({ type: 'shuffle', round: this.#round }, this.#shufflePeriod());
    // The first repair tick comes one `repairInterval` after start, not at the first shuffle: a node
    // that joined with too few neighbours asks for more within seconds.
    this.#armRepair(out);
  }

  #shufflePeriod(): Millis {
    const startup = this.config.startupShuffleIntervals[this.#ticks];
    return (startup ?? this.config.shuffleInterval) * (0.5 + this.#rng.next());
  }

  #onCommand(command: HyParViewCommand, out: HyParViewOutput): void {
    if (command.type === 'join') {
      if (command.contact === this.self) return;
      this.#joining = { contact: command.contact, attempt: (this.#joining?.attempt ?? 0) + 1 };
      out.send(command.contact, { type: 'join' });
      out.setTimer({ type: 'join', attempt: this.#joining.attempt }, this.config.joinTimeout);
      return;
    }
    for (const peer of this.#active) {
      out.send(peer, { type: 'disconnect', alive: false });
      out.disconnect(peer);
      out.emit({ type: 'peerRemovedFromView', peer });
    }
    this.#active.length = 0;
    this.#passive.length = 0;
    this.#pending.clear();
    this.#left = true;
  }

  #onMessage(from: PeerId, message: HyParViewMessage, out: HyParViewOutput): void {
    if (from === this.self) return;
    switch (message.type) {
      case 'join':
        this.#onJoin(from, out);
        return;
      case 'forwardJoin':
        this.#onForwardJoin(from, message.peer, message.ttl, out);
        return;
      case 'neighbor':
        this.#onNeighbor(from, message.priority, out);
        return;
      case 'neighborReply':
        this.#onNeighborReply(from, message.accepted, out);
        return;
      case 'disconnect':
        this.#onDisconnect(from, message.alive, out);
        return;
      case 'shuffle':
        this.#onShuffle(from, message.origin, message.ttl, message.peers, message, out);
        return;
      case 'shuffleReply':
        this.#label.learn(message.root, message.epoch);
        this.#integrate(message.peers, this.#lastShuffle);
        this.#lastShuffle = [];
        return;
      case 'probe':
        out.send(from, {
          type: 'probeReply',
          ...this.#label.fields(),
          settled: this.#label.settled,
        });
        return;
      case 'probeReply':
        this.#onProbeReply(from, message, out);
        return;
    }
  }

  #onJoin(newcomer: PeerId, out: HyParViewOutput): void {
    this.#addActive(newcomer, true, out);
    const ttl = this.config.activeRandomWalkLength;
    for (const peer of this.#active) {
      if (peer !== newcomer) out.send(peer, { type: 'forwardJoin', peer: newcomer, ttl });
    }
    // The newcomer knows only this node until its first shuffle: if this node fails before then, the
    // newcomer is left with nothing to repair from. So it gets a sample of both views at once.
    const others = this.#active.filter((peer) => peer !== newcomer);
    const sample = [
      ...this.#sample(others, this.config.shuffleActiveCount),
      ...this.#sample(this.#passive, this.config.shufflePassiveCount),
    ];
    if (sample.length > 0)
      out.send(newcomer, { type: 'shuffleReply', peers: sample, ...this.#label.fields() });
  }

  #onForwardJoin(sender: PeerId, newcomer: PeerId, ttl: number, out: HyParViewOutput): void {
    if (newcomer === this.self) return;
    if (ttl === 0 || this.#active.length <= 1) {
      this.#addActive(newcomer, true, out);
      return;
    }
    if (ttl === this.config.passiveRandomWalkLength) this.#addPassive(newcomer);
    const next = this.#randomActiveExcept(sender, newcomer);
    if (next === undefined) this.#addActive(newcomer, true, out);
    else out.send(next, { type: 'forwardJoin', peer: newcomer, ttl: ttl - 1 });
  }

  #onNeighbor(requester: PeerId, priority: 'high' | 'low' | 'bridge', out: HyParViewOutput): void {
    if (this.#active.includes(requester)) {
      out.send(requester, { type: 'neighborReply', accepted: true });
      return;
    }
    // A low-priority request comes from a node below capacity. A full node takes such neighbours beyond
    // capacity, up to `overflowSlots`: otherwise a node whose passive peers are all full stays below
    // capacity for good, and a component of full nodes (say a clique of capacity + 1, which nine nodes
    // joining at once can form) never takes anyone in, so the overlay stays split in two. High-priority
    // requests and bridges are always taken, into a free overflow slot first: evicting a neighbour
    // leaves it below capacity, its own high-priority request evicts another, and at capacity 2 such
    // cascades cut the overlay into rings (84 of 100 runs of 100 nodes split 30 s after joining; 3 so).
    if (
      priority === 'low' &&
      this.#active.length >= this.config.activeViewCapacity + this.config.overflowSlots
    ) {
      this.#addPassive(requester);
      out.send(requester, { type: 'neighborReply', accepted: false });
      return;
    }
    this.#addActive(requester, false, out, true);
    out.send(requester, { type: 'neighborReply', accepted: true });
  }

  #onNeighborReply(peer: PeerId, accepted: boolean, out: HyParViewOutput): void {
    const bridge = this.#pending.get(peer)?.bridge === true;
    const wasPending = this.#pending.delete(peer);
    if (accepted) {
      if (this.#active.includes(peer)) return;
      if (wasPending || this.#active.length < this.config.activeViewCapacity) {
        this.#addActive(peer, false, out, bridge);
      } else {
        // We gave up on this request, and our view has filled since: undo the peer's half of the link.
        out.send(peer, { type: 'disconnect', alive: true });
        out.disconnect(peer);
      }
      return;
    }
    if (wasPending) out.disconnect(peer);
    // A rejection is not a failure: the peer stays passive, and the repair timer tries again later.
    this.#rejections++;
    this.#armRepair(out);
  }

  #onDisconnect(peer: PeerId, alive: boolean, out: HyParViewOutput): void {
    this.#pending.delete(peer);
    const removed = this.#removeActive(peer, out);
    if (alive) this.#addPassive(peer);
    else this.#removePassive(peer);
    if (removed) {
      out.disconnect(peer);
      this.#repair(out);
      this.#quicken(out);
    }
  }

  #onPeerDown(peer: PeerId, out: HyParViewOutput): void {
    const wasPending = this.#pending.delete(peer);
    const wasActive = this.#removeActive(peer, out);
    if (wasPending || wasActive) {
      this.#removePassive(peer);
      out.disconnect(peer); // stop the driver from holding (or re-dialling) a link to a failed peer
      this.#repair(out);
      if (wasActive) this.#quicken(out);
    }
  }

  #onShuffle(
    sender: PeerId,
    origin: PeerId,
    ttl: number,
    peers: readonly PeerId[],
    label: ComponentLabel,
    out: HyParViewOutput,
  ): void {
    if (origin === this.self) return;
    this.#label.learn(label.root, label.epoch);
    if (ttl > 0 && this.#active.length > 1) {
      const next = this.#randomActiveExcept(sender, origin);
      if (next !== undefined) {
        out.send(next, { type: 'shuffle', origin, ttl: ttl - 1, peers, ...this.#label.fields() });
        return;
      }
    }
    const reply = this.#sample(this.#passive, Math.min(peers.length, HYPARVIEW_LIMITS.maxShufflePeers));
    out.send(origin, { type: 'shuffleReply', peers: reply, ...this.#label.fields() });
    this.#integrate(peers, reply);
  }

  #onTimer(timer: HyParViewTimer, out: HyParViewOutput): void {
    switch (timer.type) {
      case 'shuffle':
        if (timer.round !== undefined && timer.round !== this.#round) return;
        this.#label.tick(this.#ticks < this.config.startupShuffleIntervals.length);
        this.#ticks++;
        out.setTimer({ type: 'shuffle', round: this.#round }, this.#shufflePeriod());
        if (this.#bridgeCooldown > 0) this.#bridgeCooldown--;
        this.#shuffle(out);
        if (this.config.componentProbes) this.#probe(out);
        // Repair is armed by a loss or a rejection; a node that never filled its view after joining
        // had neither, and would stay below capacity for good.
        if (this.#active.length < this.config.activeViewCapacity) this.#repair(out);
        return;
      case 'repair':
        this.#repairArmed = false;
        this.#repair(out);
        return;
      case 'join':
        if (this.#joining?.attempt !== timer.attempt) return;
        if (this.#active.length > 0) {
          this.#joining = undefined;
          return;
        }
        this.#onCommand({ type: 'join', contact: this.#joining.contact }, out);
        return;
      case 'neighborTimeout':
        if (this.#pending.get(timer.peer)?.request !== timer.request) return;
        this.#pending.delete(timer.peer);
        this.#removePassive(timer.peer);
        out.disconnect(timer.peer);
        this.#repair(out);
        return;
    }
  }

  /**
   * A lost neighbour may have split the overlay: restart the short schedule, so labels settle, probes run
   * and (at a root) epochs advance within seconds. Not while its first two ticks are still to come, and
   * at most once a `shuffleInterval`: a node that keeps losing neighbours ticks at most
   * `startupShuffleIntervals.length` extra times a period.
   */
  #quicken(out: HyParViewOutput): void {
    const schedule = this.config.startupShuffleIntervals;
    if (schedule.length === 0 || this.#ticks < 2) return;
    if (this.#now - this.#quickenedAt < this.config.shuffleInterval) return;
    this.#quickenedAt = this.#now;
    this.#round++;
    this.#ticks = 0;
    out.setTimer({ type: 'shuffle', round: this.#round }, this.#shufflePeriod());
  }

  #shuffle(out: HyParViewOutput): void {
    const target = this.#randomActiveExcept(undefined, undefined);
    if (target === undefined) return;
    const others = this.#active.filter((peer) => peer !== target);
    const peers = [
      this.self,
      ...this.#sample(others, this.config.shuffleActiveCount),
      ...this.#sample(this.#passive, this.config.shufflePassiveCount),
    ];
    this.#lastShuffle = peers;
    out.send(target, {
      type: 'shuffle',
      origin: this.self,
      ttl: this.config.shuffleRandomWalkLength,
      peers,
      ...this.#label.fields(),
    });
  }

  /** Asks a random passive peer for its component's label (answered in `#onProbeReply`). */
  #probe(out: HyParViewOutput): void {
    if (!this.#label.settled || this.#bridgeCooldown > 0 || this.#active.length === 0) return;
    const candidates = this.#passive.filter((peer) => !this.#pending.has(peer));
    const [peer] = this.#sample(candidates, 1);
    if (peer === undefined) return;
    this.#probes++;
    out.send(peer, { type: 'probe' });
  }

  /**
   * A passive peer whose settled label differs from this node's settled label is in another component
   * (every node of a component ends with the same root), and so is one on the same root but epochs
   * ahead (this node's side lost the root and has not noticed yet): ask it to bridge the two. Both sides
   * take the link into an overflow slot if one is free, so neither component loses a link to the join.
   */
  #onProbeReply(
    peer: PeerId,
    reply: { readonly root: PeerId; readonly epoch: number; readonly settled: boolean },
    out: HyParViewOutput,
  ): void {
    if (!reply.settled || !this.#label.settled || this.#bridgeCooldown > 0) return;
    if (!this.#label.apart(reply.root, reply.epoch)) return;
    if (this.#active.includes(peer) || this.#pending.has(peer)) return;
    // Only with a slot free: a bridge that evicted one of this node's links could cut its own component.
    if (this.#active.length >= this.config.activeViewCapacity + this.config.overflowSlots) return;
    this.#bridgeCooldown = LABEL_SETTLE_TICKS;
    this.#bridges++;
    this.#ask(peer, 'bridge', out);
  }

  /** Sends a Neighbor request and arms its timeout. */
  #ask(peer: PeerId, priority: 'high' | 'low' | 'bridge', out: HyParViewOutput): void {
    const request = ++this.#requests;
    this.#pending.set(peer, { request, bridge: priority === 'bridge' });
    out.connect(peer);
    out.send(peer, { type: 'neighbor', priority });
    out.setTimer({ type: 'neighborTimeout', peer, request }, this.config.neighborTimeout);
  }

  /** Asks passive peers to fill the free active slots; what cannot be asked now waits for the repair timer. */
  #repair(out: HyParViewOutput): void {
    const capacity = this.config.activeViewCapacity;
    const free = capacity - this.#active.length - this.#pending.size;
    if (free <= 0) return;
    const candidates = this.#passive.filter((peer) => !this.#pending.has(peer));
    for (const peer of this.#sample(candidates, free)) {
      // The paper asks with high priority only when the view is empty. A node with one neighbour is one
      // failure from isolation, and two young nodes that only know each other (their contact evicted
      // both) would otherwise stay an island: every full node rejects their low-priority requests.
      // So does a group whose passive views hold only nodes that are full (one past capacity): after
      // repeated rejections the request must be taken, and the node taking it evicts a neighbour.
      const priority =
        this.#active.length <= 1 || this.#rejections >= this.config.rejectionsBeforeHighPriority
          ? 'high'
          : 'low';
      this.#ask(peer, priority, out);
    }
    if (this.#active.length < capacity) this.#armRepair(out);
  }

  #armRepair(out: HyParViewOutput): void {
    if (this.#repairArmed) return;
    this.#repairArmed = true;
    out.setTimer({ type: 'repair' }, this.config.repairInterval);
  }

  /**
   * Takes `peer` into the active view, evicting a random neighbour if full (with `overflow`, only once
   * the overflow slots are taken too). `ask` sends Neighbor(high).
   */
  #addActive(peer: PeerId, ask: boolean, out: HyParViewOutput, overflow = false): void {
    if (peer === this.self || this.#active.includes(peer)) return;
    if (this.#active.length >= this.config.activeViewCapacity + (overflow ? this.config.overflowSlots : 0)) {
      const victim = this.#active[this.#rng.int(this.#active.length)] as PeerId;
      this.#removeActive(victim, out);
      out.send(victim, { type: 'disconnect', alive: true });
      out.disconnect(victim);
      this.#addPassive(victim);
    }
    this.#removePassive(peer);
    this.#pending.delete(peer);
    this.#active.push(peer);
    this.#rejections = 0;
    if (this.#joining !== undefined) this.#joining = undefined;
    out.connect(peer);
    if (ask) out.send(peer, { type: 'neighbor', priority: 'high' });
    out.emit({ type: 'peerAddedToView', peer });
  }

  #removeActive(peer: PeerId, out: HyParViewOutput): boolean {
    const index = this.#active.indexOf(peer);
    if (index < 0) return false;
    this.#active.splice(index, 1);
    out.emit({ type: 'peerRemovedFromView', peer });
    return true;
  }

  #addPassive(peer: PeerId): void {
    if (peer === this.self || this.#active.includes(peer) || this.#passive.includes(peer)) return;
    if (this.#passive.length >= this.config.passiveViewCapacity) {
      this.#passive.splice(this.#rng.int(this.#passive.length), 1);
    }
    this.#passive.push(peer);
  }

  #removePassive(peer: PeerId): void {
    const index = this.#passive.indexOf(peer);
    if (index >= 0) this.#passive.splice(index, 1);
  }

  /** Adds shuffled peers to the passive view, evicting first the peers we just sent the other side. */
  #integrate(peers: readonly PeerId[], sentAway: readonly PeerId[]): void {
    const passive = this.#passive;
    let evict = sentAway.length; // sentAway[0..evict) are candidates to evict, taken from the end
    for (const peer of peers) {
      if (peer === this.self || this.#active.includes(peer) || passive.includes(peer)) continue;
      if (passive.length >= this.config.passiveViewCapacity) {
        let evicted = false;
        while (evict > 0 && !evicted) {
          const index = passive.indexOf(sentAway[--evict] as PeerId);
          if (index >= 0) {
            passive.splice(index, 1);
            evicted = true;
          }
        }
        if (!evicted) passive.splice(this.#rng.int(passive.length), 1);
      }
      passive.push(peer);
    }
  }

  #randomActiveExcept(a: PeerId | undefined, b: PeerId | undefined): PeerId | undefined {
    const n = this.#active.length;
    if (n === 0) return undefined;
    const start = this.#rng.int(n);
    for (let i = 0; i < n; i++) {
      const peer = this.#active[(start + i) % n] as PeerId;
      if (peer !== a && peer !== b) return peer;
    }
    return undefined;
  }

  /** `count` distinct random items (all of them, shuffled, when there are fewer): a partial Fisher–Yates. */
  #sample(items: readonly PeerId[], count: number): PeerId[] {
    const copy = items.slice();
    const take = Math.min(count, copy.length);
    for (let i = 0; i < take; i++) {
      const j = i + this.#rng.int(copy.length - i);
      const tmp = copy[i] as PeerId;
      copy[i] = copy[j] as PeerId;
      copy[j] = tmp;
    }
    copy.length = take;
    return copy;
  }
}

/** HyParView as a protocol definition, for the node runner and the simulator. */
export function hyparview(config: Partial<HyParViewConfig> = {}): ProtocolDefinition<
  HyParViewMessage,
  HyParViewCommand,
  HyParViewTimer,
  HyParViewEvent
> & {
  create(self: PeerId, rng: Rng, now: Millis): HyParView;
} {
  return {
    protocol: HYPARVIEW_PROTOCOL,
    decode: decodeHyParViewMessage,
    create: (self, rng) => new HyParView(self, rng, config),
  };
}
