import {
  decodePlumTreeMessage,
  type IHaveEntry,
  PLUMTREE_LIMITS,
  PLUMTREE_PROTOCOL,
  type PlumTreeMessage,
} from './plumtree-messages.js';
import type {
  Machine,
  MachineInput,
  MachineOutput,
  Millis,
  PeerId,
  ProtocolDefinition,
  Rng,
} from './protocol.js';

// PlumTree (Leitão, Pereira, Rodrigues, SRDS 2007): epidemic broadcast trees. Every neighbour starts as an
// eager (tree) link; a payload is pushed along eager links and announced lazily (IHave, batched on a timer)
// along the others. A duplicate payload prunes the link it came over, so the eager links settle into a
// spanning tree. A payload that was announced but does not arrive in time is asked for with a Graft, which
// also makes that link a tree link again: the tree heals itself around failures.
//
// Neighbours come from commands (the overlay's active view), not from connection events.

export interface PlumTreeOptions {
  /** How long after the first announcement of a missing payload to Graft its announcer. */
  readonly graftTimeout?: Millis;
  /** How long after a Graft to try the next announcer, if the payload still has not arrived. */
  readonly graftTimeout2?: Millis;
  /** Lazy announcements are batched per peer and flushed this long after the first one is queued. */
  readonly ihaveInterval?: Millis;
  /** Most payloads kept to answer Graft and Want (count); the oldest is evicted first. */
  readonly cacheSize?: number;
  /** And for how long (a payload older than this is evicted). */
  readonly cacheTtl?: Millis;
  /** Most message ids remembered as seen; the oldest is forgotten first (and would be delivered again). */
  readonly seenCapacity?: number;
  /** Largest payload accepted, sent or forwarded (default and ceiling: `PLUMTREE_LIMITS.maxPayloadBytes`). */
  readonly maxPayloadBytes?: number;
  /** Hops saved that make a lazy link eager in place of the eager link (PlumTree's optimization). */
  readonly optimizationThreshold?: number;
  /** Most announced-but-missing ids tracked at once; announcements beyond it are ignored (counted). */
  readonly pendingCapacity?: number;
  /** Most announcers remembered per missing id; later ones are ignored. */
  readonly announcersPerId?: number;
  /**
   * Called before a received payload is delivered or forwarded; false drops it (not forwarded, not
   * remembered as seen, so a genuine copy can still arrive) and emits `rejected`. This is where the
   * pub/sub layer checks the publisher's signature; it must be deterministic for the simulator.
   */
  readonly accept?: (id: string, payload: Uint8Array, from: PeerId) => boolean;
}

export const DEFAULT_PLUMTREE_OPTIONS: Readonly<Required<Omit<PlumTreeOptions, 'accept'>>> = {
  graftTimeout: 80,
  graftTimeout2: 40,
  ihaveInterval: 50,
  cacheSize: 4096,
  cacheTtl: 60_000,
  seenCapacity: 65_536,
  maxPayloadBytes: PLUMTREE_LIMITS.maxPayloadBytes,
  optimizationThreshold: 4,
  pendingCapacity: 4096,
  announcersPerId: 8,
};

export type PlumTreeCommand =
  /** The overlay gained a neighbour: it becomes an eager link. */
  | { readonly type: 'neighborUp'; readonly peer: PeerId }
  /** The overlay lost a neighbour. */
  | { readonly type: 'neighborDown'; readonly peer: PeerId }
  /** Originate a message; `id` is opaque and chosen by the caller (a seen id is ignored). */
  | { readonly type: 'broadcast'; readonly id: string; readonly payload: Uint8Array }
  /** Ask every neighbour for messages known to be missing; answers are delivered once, like gossip. */
  | { readonly type: 'fetch'; readonly ids: readonly string[] };

export type PlumTreeTimer =
  | { readonly type: 'ihaveFlush' }
  | { readonly type: 'graft'; readonly id: string; readonly attempt: number };

export type PlumTreeEvent =
  /** A payload seen for the first time (never for the node's own broadcasts). */
  | {
      readonly type: 'deliver';
      readonly id: string;
      readonly payload: Uint8Array;
      readonly from: PeerId;
      readonly hops: number;
    }
  /** `accept` refused a payload (or it was larger than `maxPayloadBytes`; then `from` may be self). */
  | { readonly type: 'rejected'; readonly id: string; readonly from: PeerId }
  /** A neighbour's link changed: a tree link, a lazy link, or no link. */
  | { readonly type: 'treeChanged'; readonly peer: PeerId; readonly link: 'eager' | 'lazy' | 'none' };

export type PlumTreeOutput = MachineOutput<PlumTreeMessage, PlumTreeTimer, PlumTreeEvent>;
export type PlumTreeInput = MachineInput<PlumTreeMessage, PlumTreeCommand, PlumTreeTimer>;

/** What the machine has done, for tests, the map and the simulator. */
export interface PlumTreeCounters {
  /** Payloads delivered (first copies). */
  delivered: number;
  /** Payloads received (gossip and reply messages, duplicates included). */
  payloadsReceived: number;
  /** Copies of a payload already seen. */
  duplicates: number;
  /** Payloads `accept` refused, or too large. */
  rejected: number;
  broadcasts: number;
  gossipSent: number;
  ihaveSent: number;
  ihaveEntriesSent: number;
  graftsSent: number;
  prunesSent: number;
  wantsSent: number;
  repliesSent: number;
  /** Announcements ignored because the pending table was full. */
  pendingDropped: number;
  /** Missing ids given up on: every announcer was tried. */
  graftsExhausted: number;
  /** Links made eager by the optimization (a lazy path many hops shorter). */
  optimizations: number;
}

/** Sizes of the bounded structures, to check that they stay bounded. */
export interface PlumTreeSizes {
  seen: number;
  cache: number;
  pending: number;
  /** Announcements queued for the next flush, over all peers. */
  outbox: number;
}

interface Cached {
  readonly payload: Uint8Array;
  /** Hops the payload had travelled to reach this node (0 at its origin). */
  readonly hops: number;
  readonly at: Millis;
}

interface Missing {
  readonly announcers: { peer: PeerId; hops: number }[];
  /** Index of the next announcer to Graft. */
  next: number;
}

export class PlumTree implements Machine<PlumTreeMessage, PlumTreeCommand, PlumTreeTimer, PlumTreeEvent> {
  readonly self: PeerId;
  readonly options: Required<Omit<PlumTreeOptions, 'accept'>>;
  readonly #accept: PlumTreeOptions['accept'];
  readonly #eager = new Set<PeerId>();
  readonly #lazy = new Set<PeerId>();
  /** Seen ids in insertion order: the first is the oldest, evicted when full. */
  readonly #seen = new Set<string>();
  /** Payloads in insertion order (oldest first): evicted by count and by age. */
  readonly #cache = new Map<string, Cached>();
  readonly #missing = new Map<string, Missing>();
  /** Announcements per lazy peer, waiting for the flush timer; a full batch is sent at once. */
  readonly #outbox = new Map<PeerId, IHaveEntry[]>();
  #outboxSize = 0;
  #flushArmed = false;
  #now: Millis;
  readonly #counters: PlumTreeCounters = {
    delivered: 0,
    payloadsReceived: 0,
    duplicates: 0,
    rejected: 0,
    broadcasts: 0,
    gossipSent: 0,
    ihaveSent: 0,
    ihaveEntriesSent: 0,
    graftsSent: 0,
    prunesSent: 0,
    wantsSent: 0,
    repliesSent: 0,
    pendingDropped: 0,
    graftsExhausted: 0,
    optimizations: 0,
  };

  constructor(self: PeerId, _rng: Rng, now: Millis, options: PlumTreeOptions = {}) {
    this.self = self;
    this.#now = now;
    const { accept, ...rest } = options;
    this.#accept = accept;
    const merged = { ...DEFAULT_PLUMTREE_OPTIONS, ...stripUndefined(rest) };
    merged.maxPayloadBytes = Math.min(merged.maxPayloadBytes, PLUMTREE_LIMITS.maxPayloadBytes);
    for (const key of ['cacheSize', 'seenCapacity', 'pendingCapacity', 'announcersPerId'] as const) {
      if (!Number.isInteger(merged[key]) || merged[key] < 1) {
        throw new RangeError(`${key} must be a positive integer`);
      }
    }
    this.options = merged;
  }

  /** The tree links (a copy). */
  eagerPeers(): PeerId[] {
    return [...this.#eager];
  }

  /** The lazy links (a copy). */
  lazyPeers(): PeerId[] {
    return [...this.#lazy];
  }

  /** Calls `fn` on each tree link without copying (for drivers that measure thousands of machines). */
  forEachEager(fn: (peer: PeerId) => void): void {
    for (const peer of this.#eager) fn(peer);
  }

  /** A copy of the counters. */
  counters(): PlumTreeCounters {
    return { ...this.#counters };
  }

  sizes(): PlumTreeSizes {
    return {
      seen: this.#seen.size,
      cache: this.#cache.size,
      pending: this.#missing.size,
      outbox: this.#outboxSize,
    };
  }

  /** Whether `id` has been seen (delivered, or broadcast here) and not yet forgotten. */
  hasSeen(id: string): boolean {
    return this.#seen.has(id);
  }

  handle(input: PlumTreeInput, now: Millis, out: PlumTreeOutput): void {
    this.#now = now;
    switch (input.type) {
      case 'message':
        if (input.from !== this.self) this.#onMessage(input.from, input.message, out);
        return;
      case 'timer':
        this.#onTimer(input.timer, out);
        return;
      case 'command':
        this.#onCommand(input.command, out);
        return;
      case 'peerUp':
      case 'peerDown':
        return; // neighbours come from the overlay, as commands
    }
  }

  #onCommand(command: PlumTreeCommand, out: PlumTreeOutput): void {
    switch (command.type) {
      case 'neighborUp':
        if (command.peer === this.self || this.#eager.has(command.peer) || this.#lazy.has(command.peer)) {
          return;
        }
        this.#eager.add(command.peer);
        out.emit({ type: 'treeChanged', peer: command.peer, link: 'eager' });
        return;
      case 'neighborDown': {
        const known = this.#eager.delete(command.peer) || this.#lazy.delete(command.peer);
        const queued = this.#outbox.get(command.peer);
        if (queued !== undefined) {
          this.#outboxSize -= queued.length;
          this.#outbox.delete(command.peer);
        }
        if (known) out.emit({ type: 'treeChanged', peer: command.peer, link: 'none' });
        return;
      }
      case 'broadcast':
        this.#broadcast(command.id, command.payload, out);
        return;
      case 'fetch':
        this.#fetch(command.ids, out);
        return;
    }
  }

  #broadcast(id: string, payload: Uint8Array, out: PlumTreeOutput): void {
    if (this.#seen.has(id)) return;
    if (payload.byteLength > this.options.maxPayloadBytes || id.length > PLUMTREE_LIMITS.maxIdLength) {
      this.#counters.rejected++;
      out.emit({ type: 'rejected', id, from: this.self });
      return;
    }
    this.#counters.broadcasts++;
    this.#remember(id, payload, 0);
    this.#forward(id, payload, 0, undefined, out);
  }

  #fetch(ids: readonly string[], out: PlumTreeOutput): void {
    const wanted = ids.filter((id) => id.length > 0 && id.length <= PLUMTREE_LIMITS.maxIdLength);
    const missing = wanted.filter((id) => !this.#seen.has(id));
    for (let start = 0; start < missing.length; start += PLUMTREE_LIMITS.maxIdsPerMessage) {
      const chunk = missing.slice(start, start + PLUMTREE_LIMITS.maxIdsPerMessage);
      for (const peer of this.#eager) this.#sendWant(peer, chunk, out);
      for (const peer of this.#lazy) this.#sendWant(peer, chunk, out);
    }
  }

  #sendWant(peer: PeerId, ids: readonly string[], out: PlumTreeOutput): void {
    this.#counters.wantsSent++;
    out.send(peer, { type: 'want', ids });
  }

  #onMessage(from: PeerId, message: PlumTreeMessage, out: PlumTreeOutput): void {
    switch (message.type) {
      case 'gossip':
        this.#onPayload(from, message.id, message.payload, message.hops, true, out);
        return;
      case 'reply':
        this.#onPayload(from, message.id, message.payload, message.hops, false, out);
        return;
      case 'ihave':
        for (const entry of message.entries) this.#onIHave(from, entry.id, entry.hops, out);
        return;
      case 'graft':
        this.#onGraft(from, message.ids, out);
        return;
      case 'prune':
        if (this.#eager.delete(from)) {
          this.#lazy.add(from);
          out.emit({ type: 'treeChanged', peer: from, link: 'lazy' });
        }
        return;
      case 'want':
        for (const id of message.ids) {
          const cached = this.#cached(id);
          if (cached === undefined || cached.hops + 1 > PLUMTREE_LIMITS.maxHops) continue;
          this.#counters.repliesSent++;
          out.send(from, { type: 'reply', id, payload: cached.payload, hops: cached.hops + 1 });
        }
        return;
    }
  }

  /** A payload from `from`: `tree` for gossip (tree maintenance applies), false for a Want's reply. */
  #onPayload(
    from: PeerId,
    id: string,
    payload: Uint8Array,
    hops: number,
    tree: boolean,
    out: PlumTreeOutput,
  ): void {
    this.#counters.payloadsReceived++;
    if (this.#seen.has(id)) {
      this.#counters.duplicates++;
      // A second copy over a tree link: the link closes a cycle, so it leaves the tree.
      if (tree && this.#eager.delete(from)) {
        this.#lazy.add(from);
        this.#counters.prunesSent++;
        out.send(from, { type: 'prune' });
        out.emit({ type: 'treeChanged', peer: from, link: 'lazy' });
      }
      return;
    }
    if (payload.byteLength > this.options.maxPayloadBytes || !(this.#accept?.(id, payload, from) ?? true)) {
      this.#counters.rejected++;
      out.emit({ type: 'rejected', id, from });
      return;
    }
    this.#counters.delivered++;
    this.#remember(id, payload, hops);
    const missing = this.#missing.get(id);
    this.#missing.delete(id);
    if (tree && this.#lazy.delete(from)) {
      // It came over a lazy link (the answer to our Graft): that link is a tree link now.
      this.#eager.add(from);
      out.emit({ type: 'treeChanged', peer: from, link: 'eager' });
    }
    out.emit({ type: 'deliver', id, payload, from, hops });
    if (tree && missing !== undefined) this.#optimize(from, hops, missing, out);
    this.#forward(id, payload, hops, from, out);
  }

  /**
   * PlumTree's optimization: when a lazy neighbour announced this payload over a path at least
   * `optimizationThreshold` hops shorter than the one it came by, swap: graft the short link, prune the long.
   */
  #optimize(from: PeerId, hops: number, missing: Missing, out: PlumTreeOutput): void {
    let best: { peer: PeerId; hops: number } | undefined;
    for (const announcer of missing.announcers) {
      if (!this.#lazy.has(announcer.peer)) continue;
      if (best === undefined || announcer.hops < best.hops) best = announcer;
    }
    if (best === undefined || hops - (best.hops + 1) < this.options.optimizationThreshold) return;
    this.#counters.optimizations++;
    this.#lazy.delete(best.peer);
    this.#eager.add(best.peer);
    this.#counters.graftsSent++;
    out.send(best.peer, { type: 'graft', ids: [] });
    out.emit({ type: 'treeChanged', peer: best.peer, link: 'eager' });
    if (this.#eager.delete(from)) {
      this.#lazy.add(from);
      this.#counters.prunesSent++;
      out.send(from, { type: 'prune' });
      out.emit({ type: 'treeChanged', peer: from, link: 'lazy' });
    }
  }

  #forward(
    id: string,
    payload: Uint8Array,
    hops: number,
    from: PeerId | undefined,
    out: PlumTreeOutput,
  ): void {
    const next = hops + 1;
    if (next > PLUMTREE_LIMITS.maxHops) return; // the wire cannot carry it further
    for (const peer of this.#eager) {
      if (peer === from) continue;
      this.#counters.gossipSent++;
      out.send(peer, { type: 'gossip', id, payload, hops: next });
    }
    for (const peer of this.#lazy) {
      if (peer !== from) this.#announce(peer, { id, hops }, out);
    }
  }

  /** Queues an announcement; a peer's full batch goes out at once, so the outbox never outgrows a batch per lazy peer. */
  #announce(peer: PeerId, entry: IHaveEntry, out: PlumTreeOutput): void {
    let batch = this.#outbox.get(peer);
    if (batch === undefined) {
      batch = [];
      this.#outbox.set(peer, batch);
    }
    batch.push(entry);
    this.#outboxSize++;
    if (batch.length >= PLUMTREE_LIMITS.maxIdsPerMessage) {
      this.#sendIHave(peer, batch, out);
      this.#outbox.delete(peer);
      return;
    }
    if (!this.#flushArmed) {
      this.#flushArmed = true;
      out.setTimer({ type: 'ihaveFlush' }, this.options.ihaveInterval);
    }
  }

  #sendIHave(peer: PeerId, entries: IHaveEntry[], out: PlumTreeOutput): void {
    this.#outboxSize -= entries.length;
    this.#counters.ihaveSent++;
    this.#counters.ihaveEntriesSent += entries.length;
    out.send(peer, { type: 'ihave', entries });
  }

  #onIHave(from: PeerId, id: string, hops: number, out: PlumTreeOutput): void {
    if (this.#seen.has(id)) return;
    const missing = this.#missing.get(id);
    if (missing !== undefined) {
      if (
        missing.announcers.length < this.options.announcersPerId &&
        !missing.announcers.some((a) => a.peer === from)
      ) {
        missing.announcers.push({ peer: from, hops });
      }
      return;
    }
    if (this.#missing.size >= this.options.pendingCapacity) {
      // Full: the announcement is ignored. The payload still arrives by the tree, or by a later fetch.
      this.#counters.pendingDropped++;
      return;
    }
    this.#missing.set(id, { announcers: [{ peer: from, hops }], next: 0 });
    out.setTimer({ type: 'graft', id, attempt: 0 }, this.options.graftTimeout);
  }

  #onGraft(from: PeerId, ids: readonly string[], out: PlumTreeOutput): void {
    if (this.#lazy.delete(from)) {
      this.#eager.add(from);
      out.emit({ type: 'treeChanged', peer: from, link: 'eager' });
    }
    for (const id of ids) {
      const cached = this.#cached(id);
      if (cached === undefined || cached.hops + 1 > PLUMTREE_LIMITS.maxHops) continue;
      this.#counters.gossipSent++;
      out.send(from, { type: 'gossip', id, payload: cached.payload, hops: cached.hops + 1 });
    }
  }

  #onTimer(timer: PlumTreeTimer, out: PlumTreeOutput): void {
    if (timer.type === 'ihaveFlush') {
      this.#flushArmed = false;
      for (const [peer, batch] of this.#outbox) this.#sendIHave(peer, batch, out);
      this.#outbox.clear();
      return;
    }
    const missing = this.#missing.get(timer.id);
    if (missing === undefined || missing.next !== timer.attempt) return;
    // The next announcer that is still a neighbour; a departed one would not answer.
    while (missing.next < missing.announcers.length) {
      const announcer = missing.announcers[missing.next++] as { peer: PeerId; hops: number };
      if (!this.#eager.has(announcer.peer) && !this.#lazy.has(announcer.peer)) continue;
      if (this.#lazy.delete(announcer.peer)) {
        this.#eager.add(announcer.peer);
        out.emit({ type: 'treeChanged', peer: announcer.peer, link: 'eager' });
      }
      this.#counters.graftsSent++;
      out.send(announcer.peer, { type: 'graft', ids: [timer.id] });
      out.setTimer({ type: 'graft', id: timer.id, attempt: missing.next }, this.options.graftTimeout2);
      return;
    }
    this.#counters.graftsExhausted++;
    this.#missing.delete(timer.id);
  }

  #remember(id: string, payload: Uint8Array, hops: number): void {
    const seen = this.#seen;
    seen.add(id);
    if (seen.size > this.options.seenCapacity) seen.delete(seen.values().next().value as string);
    const cache = this.#cache;
    cache.set(id, { payload, hops, at: this.#now });
    if (cache.size > this.options.cacheSize) cache.delete(cache.keys().next().value as string);
    this.#expire();
  }

  #cached(id: string): Cached | undefined {
    this.#expire();
    return this.#cache.get(id);
  }

  /** Drops payloads older than `cacheTtl`: the oldest are first in insertion order. */
  #expire(): void {
    const oldest = this.#now - this.options.cacheTtl;
    for (const [id, entry] of this.#cache) {
      if (entry.at >= oldest) return;
      this.#cache.delete(id);
    }
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** PlumTree as a protocol definition, for the node runner and the simulator. */
export function plumtree(options: PlumTreeOptions = {}): ProtocolDefinition<
  PlumTreeMessage,
  PlumTreeCommand,
  PlumTreeTimer,
  PlumTreeEvent
> & {
  create(self: PeerId, rng: Rng, now: Millis): PlumTree;
} {
  return {
    protocol: PLUMTREE_PROTOCOL,
    decode: decodePlumTreeMessage,
    create: (self, rng, now) => new PlumTree(self, rng, now, options),
  };
}
