import { GraftWait } from './plumtree-graft-wait.js';
import { IHaveOutbox } from './plumtree-ihave-outbox.js';
import {
  decodePlumTreeMessage,
  PLUMTREE_LIMITS,
  PLUMTREE_PROTOCOL,
  type PlumTreeMessage,
} from './plumtree-messages.js';
import { type Announcer, type Missing, MissingTable } from './plumtree-missing.js';
import { orderOfId, type PlumTreeOptions, resolvePlumTreeOptions, sourceOfId } from './plumtree-options.js';
import { PayloadStore } from './plumtree-payload-store.js';
import { SourceTrees, type TreeLinks } from './plumtree-trees.js';
import {
  type PlumTreeCommand,
  type PlumTreeCounters,
  type PlumTreeEvent,
  type PlumTreeInput,
  type PlumTreeOutput,
  type PlumTreeSizes,
  type PlumTreeTimer,
  zeroPlumTreeCounters,
} from './plumtree-types.js';
import type { Machine, Millis, PeerId, ProtocolDefinition, Rng } from './protocol.js';

// PlumTree (Leitão, Pereira, Rodrigues, SRDS 2007): epidemic broadcast trees. Every neighbour starts as an
// eager (tree) link; a payload is pushed along eager links and announced lazily (IHave, batched on a timer)
// along the others. A duplicate payload prunes the link it came over, so the eager links settle into a
// spanning tree. A payload that was announced but does not arrive in time is asked for with a Graft, which
// also makes that link a tree link again: the tree heals itself around failures.
//
// One tree per source: with a tree shared by several publishers, each one's fastest paths differ, the
// Grafts for one undo the Prunes for another, and the tree never settles. A message's source is read from
// its id (`treeOf`, by default the part before the last `/`, as in `<publisher>/<seq>`); each source's
// tree starts as every neighbour eager, so its first message floods and prunes the cycles away.
//
// A Graft is a repair, and a spurious one costs a whole payload: under load the small announcements
// overtake payloads queued on busy tree links. So a missing message's Graft waits while its tree is
// still delivering in order (see `graftDeferLimit`): the payload is most likely queued behind the ones
// arriving. A tree that stops delivering, or delivers a later message first, is repaired as before.
//
// Neighbours come from commands (the overlay's active view), not from connection events.

/** First copies in a row over a pruned link before it is grafted again (`regraftPrunedPusher`). */
const REGRAFT_AFTER_RUN = 3;

export class PlumTree implements Machine<PlumTreeMessage, PlumTreeCommand, PlumTreeTimer, PlumTreeEvent> {
  readonly self: PeerId;
  readonly options: Required<Omit<PlumTreeOptions, 'accept' | 'treeOf' | 'orderOf' | 'retain'>>;
  readonly #accept: PlumTreeOptions['accept'];
  readonly #retain: PlumTreeOptions['retain'];
  readonly #treeOf: (id: string) => string;
  readonly #orderOf: (id: string) => number | undefined;
  /** Where the next fetch starts among the neighbours (when `fetchFrom` limits how many it asks). */
  #fetchTurn = 0;
  readonly #trees: SourceTrees;
  readonly #payloads: PayloadStore;
  readonly #missing: MissingTable;
  /** Ids asked for by a Want and not yet pushed (bounded by `pendingCapacity`, oldest forgotten first). */
  readonly #wanted = new Set<string>();
  readonly #outbox: IHaveOutbox;
  readonly #graftWait: GraftWait;
  /** First copies that arrived pushed down a tree (not asked for), over all trees: a clock of progress. */
  #pushes = 0;
  #now: Millis;
  readonly #counters: PlumTreeCounters = zeroPlumTreeCounters();

  constructor(self: PeerId, _rng: Rng, now: Millis, options: PlumTreeOptions = {}) {
    this.self = self;
    this.#now = now;
    const { accept, treeOf, orderOf, retain, ...rest } = options;
    this.#accept = accept;
    this.#retain = retain;
    this.#treeOf = treeOf ?? sourceOfId;
    this.#orderOf = orderOf ?? orderOfId;
    this.options = resolvePlumTreeOptions(rest);
    const { seenCapacity, cacheSize, cacheBytes, cacheTtl, ihaveInterval } = this.options;
    this.#trees = new SourceTrees(this.options.maxTrees);
    this.#missing = new MissingTable(this.options.pendingCapacity, this.options.announcersPerId);
    this.#payloads = new PayloadStore(seenCapacity, cacheSize, cacheTtl, cacheBytes);
    this.#outbox = new IHaveOutbox(ihaveInterval, this.#counters);
    const { graftTimeout, graftTimeout2, graftTimeoutMax } = this.options;
    this.#graftWait = new GraftWait(graftTimeout, graftTimeout2, graftTimeoutMax);
  }

  /**
   * The neighbours that are tree links: in `tree` (a source) when given, else in any tree (a neighbour
   * with no tree yet counts as eager, as every new tree starts so).
   */
  eagerPeers(tree?: string): PeerId[] {
    if (tree !== undefined) return [...this.#trees.eagerOf(tree)];
    return this.#trees.neighbors().filter((peer) => this.#trees.isEagerAnywhere(peer));
  }

  /** The neighbours that are lazy links: in `tree` when given, else in every tree. */
  lazyPeers(tree?: string): PeerId[] {
    if (tree !== undefined) return this.#trees.lazyOf(tree);
    return this.#trees.neighbors().filter((peer) => !this.#trees.isEagerAnywhere(peer));
  }

  /** The sources with a tree here, least recently used first. */
  trees(): string[] {
    return this.#trees.sources();
  }

  /** Calls `fn` on each eager link of `tree` without copying (for drivers that measure thousands of machines). */
  forEachEager(tree: string, fn: (peer: PeerId) => void): void {
    for (const peer of this.#trees.eagerOf(tree)) fn(peer);
  }

  /** A copy of the counters. */
  counters(): PlumTreeCounters {
    return { ...this.#counters };
  }

  sizes(): PlumTreeSizes {
    return {
      seen: this.#payloads.seenCount,
      cache: this.#payloads.cachedCount,
      pending: this.#missing.size,
      outbox: this.#outbox.size,
      trees: this.#trees.size,
    };
  }

  /** Whether `id` has been seen (delivered, or broadcast here) and not yet forgotten. */
  hasSeen(id: string): boolean {
    return this.#payloads.hasSeen(id);
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
        if (command.peer === this.self || !this.#trees.addNeighbor(command.peer)) return;
        out.emit({ type: 'treeChanged', tree: '', peer: command.peer, link: 'eager' });
        return;
      case 'neighborDown': {
        const known = this.#trees.removeNeighbor(command.peer);
        this.#outbox.drop(command.peer);
        if (known) out.emit({ type: 'treeChanged', tree: '', peer: command.peer, link: 'none' });
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
    if (this.#payloads.hasSeen(id)) return;
    if (payload.byteLength > this.options.maxPayloadBytes || id.length > PLUMTREE_LIMITS.maxIdLength) {
      this.#counters.rejected++;
      out.emit({ type: 'rejected', id, from: this.self });
      return;
    }
    this.#counters.broadcasts++;
    this.#payloads.remember(id, payload, 0, this.#now, this.#retain?.(payload));
    this.#forward(id, payload, 0, undefined, this.#trees.use(this.#treeOf(id)), out);
  }

  #fetch(ids: readonly string[], out: PlumTreeOutput): void {
    const wanted = ids.filter((id) => id.length > 0 && id.length <= PLUMTREE_LIMITS.maxIdLength);
    // An announced id is already being repaired by its graft timer (which knows whether the tree is
    // still delivering it); asking for it again would only fetch a second copy.
    const missing = wanted.filter((id) => !this.#payloads.hasSeen(id) && !this.#missing.has(id));
    if (missing.length === 0) return;
    let asked = this.#trees.neighbors();
    const limit = this.options.fetchFrom;
    if (limit > 0 && limit < asked.length) {
      const first = this.#fetchTurn++ % asked.length;
      asked = [...asked.slice(first), ...asked.slice(0, first)].slice(0, limit);
    }
    for (let start = 0; start < missing.length; start += PLUMTREE_LIMITS.maxIdsPerMessage) {
      const chunk = missing.slice(start, start + PLUMTREE_LIMITS.maxIdsPerMessage);
      for (const peer of asked) this.#sendWant(peer, chunk, out);
    }
  }

  #sendWant(peer: PeerId, ids: readonly string[], out: PlumTreeOutput): void {
    this.#counters.wantsSent++;
    for (const id of ids) {
      this.#wanted.delete(id);
      this.#wanted.add(id);
      if (this.#wanted.size > this.options.pendingCapacity) {
        this.#wanted.delete(this.#wanted.values().next().value as string);
      }
    }
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
        this.#onGraft(from, message.tree, message.ids, out);
        return;
      case 'prune': {
        const links = this.#trees.get(message.tree);
        if (links?.pusher === from) links.pusher = undefined;
        if (links?.eager.delete(from)) {
          links.lazy.add(from);
          out.emit({ type: 'treeChanged', tree: message.tree, peer: from, link: 'lazy' });
        }
        return;
      }
      case 'want':
        this.#reply(from, message.ids, out);
        return;
    }
  }

  /** A payload from `from`: `tree` for gossip (tree maintenance applies), false for a requested reply. */
  #onPayload(
    from: PeerId,
    id: string,
    payload: Uint8Array,
    hops: number,
    tree: boolean,
    out: PlumTreeOutput,
  ): void {
    this.#counters.payloadsReceived++;
    if (this.#payloads.hasSeen(id)) {
      this.#counters.duplicates++;
      if (!tree) this.#counters.duplicateReplies++;
      // A push of what this node fetched (the reply came first): the parent was late, not a cycle.
      if (tree && this.#wanted.delete(id)) {
        this.#counters.lateAfterWant++;
        return;
      }
      // A second copy pushed to us: the link closes a cycle, so it leaves the tree. The Prune goes out
      // even when the link is already lazy here, since the sender still takes it for a tree link, and
      // to a sender that is not (or no longer) our neighbour: it still counts us as one of its tree
      // links, and would push every message of the tree here until told.
      if (tree) {
        const source = this.#treeOf(id);
        if (!this.#trees.isNeighbor(from)) {
          this.#counters.prunesSent++;
          out.send(from, { type: 'prune', tree: source });
          return;
        }
        const links = this.#trees.use(source);
        const graftedAt = links.graftedAt.get(from);
        if (graftedAt !== undefined && this.#now - graftedAt < this.options.pruneGrace) return;
        // The first copies now come from a link this node has already pruned (its pushes were in flight):
        // pruning this one too would leave no parent at all, and the tree would stall until a Graft.
        const pusher = links.pusher;
        if (
          this.options.spareLastParent &&
          pusher !== undefined &&
          pusher !== from &&
          links.lazy.has(pusher) &&
          links.eager.has(from)
        ) {
          this.#counters.prunesSpared++;
          return;
        }
        if (links.eager.delete(from)) {
          links.lazy.add(from);
          out.emit({ type: 'treeChanged', tree: source, peer: from, link: 'lazy' });
        }
        this.#counters.prunesSent++;
        out.send(from, { type: 'prune', tree: source });
      }
      return;
    }
    if (payload.byteLength > this.options.maxPayloadBytes || !(this.#accept?.(id, payload, from) ?? true)) {
      this.#counters.rejected++;
      out.emit({ type: 'rejected', id, from });
      return;
    }
    this.#counters.delivered++;
    if (!tree) this.#counters.deliveredByReply++;
    this.#payloads.remember(id, payload, hops, this.#now, this.#retain?.(payload));
    const missing = this.#missing.take(id);
    // A first copy over a lazy link (pushed before the peer saw our Prune) does not make the link eager
    // again: links change only by Graft and Prune, which both sides see, so the tree stays symmetric.
    out.emit({ type: 'deliver', id, payload, from, hops });
    const source = this.#treeOf(id);
    const links = this.#trees.use(source);
    if (tree) {
      // Pushed first: a reply to a Want for it will be a duplicate reply (no Prune either way).
      this.#wanted.delete(id);
      // The tree is delivering: what it still misses is probably queued behind this (graftDeferLimit).
      links.lastPush = ++this.#pushes;
      // Announced before it came down the tree: how late pushes are, for the graft timers.
      if (missing !== undefined) this.#graftWait.sample(this.#now - missing.since, this.#now);
      const order = this.#orderOf(id);
      if (order !== undefined && order > links.highestPushed) links.highestPushed = order;
      // A first copy over a link this node pruned: the peer has not seen the Prune yet (its queue
      // holds it). When several in a row come so, that peer is the parent in fact, and once the Prune
      // lands it would stop; a Graft after the Prune keeps the link.
      const run = links.pusher === from && links.lazy.has(from) ? links.lazyRun + 1 : 1;
      links.lazyRun = links.lazy.has(from) ? run : 0;
      links.pusher = from;
      if (
        this.options.regraftPrunedPusher &&
        links.lazyRun >= REGRAFT_AFTER_RUN &&
        this.#trees.isNeighbor(from) &&
        links.lazy.delete(from)
      ) {
        links.eager.add(from);
        links.lazyRun = 0;
        this.#counters.regrafts++;
        this.#counters.graftsSent++;
        out.send(from, { type: 'graft', tree: source, ids: [] });
        out.emit({ type: 'treeChanged', tree: source, peer: from, link: 'eager' });
      }
    }
    if (tree && missing !== undefined) this.#optimize(from, source, links, hops, missing, out);
    // A fetched payload is announced, not pushed, to the parent: it most likely had it first (only late),
    // and would take our copy for a cycle and prune the link it feeds us by.
    const upstream = tree || !this.options.announceFetchedToParent ? undefined : links.pusher;
    this.#forward(id, payload, hops, from, links, out, upstream);
  }

  /**
   * PlumTree's optimization: when a lazy neighbour announced this payload over a path at least
   * `optimizationThreshold` hops shorter than the one it came by, swap: graft the short link, prune the long.
   */
  #optimize(
    from: PeerId,
    source: string,
    links: TreeLinks,
    hops: number,
    missing: Missing,
    out: PlumTreeOutput,
  ): void {
    let best: { peer: PeerId; hops: number } | undefined;
    for (const announcer of missing.announcers) {
      if (!links.lazy.has(announcer.peer)) continue;
      if (best === undefined || announcer.hops < best.hops) best = announcer;
    }
    if (best === undefined || hops - (best.hops + 1) < this.options.optimizationThreshold) return;
    this.#counters.optimizations++;
    links.lazy.delete(best.peer);
    links.eager.add(best.peer);
    this.#counters.graftsSent++;
    out.send(best.peer, { type: 'graft', tree: source, ids: [] });
    out.emit({ type: 'treeChanged', tree: source, peer: best.peer, link: 'eager' });
    if (links.eager.delete(from)) {
      links.lazy.add(from);
      this.#counters.prunesSent++;
      out.send(from, { type: 'prune', tree: source });
      out.emit({ type: 'treeChanged', tree: source, peer: from, link: 'lazy' });
    }
  }

  #forward(
    id: string,
    payload: Uint8Array,
    hops: number,
    from: PeerId | undefined,
    links: TreeLinks,
    out: PlumTreeOutput,
    upstream?: PeerId,
  ): void {
    const next = hops + 1;
    if (next > PLUMTREE_LIMITS.maxHops) return; // the wire cannot carry it further
    for (const peer of links.eager) {
      if (peer === from) continue;
      // Told, not pushed: should the parent have lost it after all, the announcement lets it ask.
      if (peer === upstream) {
        this.#outbox.announce(peer, { id, hops }, out);
        continue;
      }
      this.#counters.gossipSent++;
      out.send(peer, { type: 'gossip', id, payload, hops: next });
    }
    for (const peer of links.lazy) {
      if (peer !== from) this.#outbox.announce(peer, { id, hops }, out);
    }
  }

  #onIHave(from: PeerId, id: string, hops: number, out: PlumTreeOutput): void {
    if (this.#payloads.hasSeen(id)) return;
    const result = this.#missing.announce(id, from, hops, this.#now, this.#pushes);
    if (result === 'full') {
      // Full: the announcement is ignored. The payload still arrives by the tree, or by a later fetch.
      this.#counters.pendingDropped++;
    }
    if (result !== 'new') return;
    out.setTimer({ type: 'graft', id, attempt: 0 }, this.#graftWait.first(this.#now));
  }

  #onGraft(from: PeerId, source: string, ids: readonly string[], out: PlumTreeOutput): void {
    // Only a tree this node has: a Graft naming an unknown source must not make trees (and so evict the
    // least recently used ones) at a neighbour's will. Answers are sent either way.
    const links = this.#trees.isNeighbor(from) ? this.#trees.get(source) : undefined;
    if (links !== undefined) {
      if (links.lazy.delete(from)) {
        links.eager.add(from);
        out.emit({ type: 'treeChanged', tree: source, peer: from, link: 'eager' });
      }
      links.graftedAt.set(from, this.#now);
    }
    // The answer is a Reply, not Gossip: when it arrives after a copy from elsewhere (the grafting node
    // asked late, or asked twice), that duplicate is our answer to its request, not a cycle in the tree,
    // and must not prune the link it has just grafted.
    this.#reply(from, ids, out);
  }

  #reply(to: PeerId, ids: readonly string[], out: PlumTreeOutput): void {
    for (const id of ids) {
      const cached = this.#payloads.cached(id, this.#now);
      if (cached === undefined || cached.hops + 1 > PLUMTREE_LIMITS.maxHops) continue;
      this.#counters.repliesSent++;
      out.send(to, { type: 'reply', id, payload: cached.payload, hops: cached.hops + 1 });
    }
  }

  #onTimer(timer: PlumTreeTimer, out: PlumTreeOutput): void {
    if (timer.type === 'ihaveFlush') {
      this.#outbox.flush(out);
      return;
    }
    const missing = this.#missing.get(timer.id);
    if (missing === undefined || missing.next !== timer.attempt) return;
    if (this.#stillComing(timer.id, missing)) {
      missing.checked = this.#pushes;
      this.#counters.graftsDeferred++;
      const wait = timer.attempt === 0 ? this.#graftWait.first(this.#now) : this.#graftWait.next(this.#now);
      out.setTimer({ type: 'graft', id: timer.id, attempt: timer.attempt }, wait);
      return;
    }
    // The tree still delivers, only not this one: fetch it, and leave the tree's links as they are.
    const delivering = this.options.wantWhileDelivering && this.#stillDelivering(timer.id, missing);
    // The next announcer that is still a neighbour; a departed one would not answer.
    while (missing.next < missing.announcers.length) {
      const announcer = missing.announcers[missing.next++] as Announcer;
      if (!this.#trees.isNeighbor(announcer.peer)) continue;
      const source = this.#treeOf(timer.id);
      const ids = [timer.id, ...this.#alongWith(timer.id, source, announcer.peer, delivering, out)];
      if (delivering) {
        missing.checked = this.#pushes;
        this.#counters.graftsAsWants++;
        this.#sendWant(announcer.peer, ids, out);
        out.setTimer({ type: 'graft', id: timer.id, attempt: missing.next }, this.#graftWait.next(this.#now));
        return;
      }
      const links = this.#trees.use(source);
      if (links.lazy.delete(announcer.peer)) {
        links.eager.add(announcer.peer);
        out.emit({ type: 'treeChanged', tree: source, peer: announcer.peer, link: 'eager' });
      }
      this.#counters.graftsSent++;
      out.send(announcer.peer, { type: 'graft', tree: source, ids });
      out.setTimer({ type: 'graft', id: timer.id, attempt: missing.next }, this.#graftWait.next(this.#now));
      return;
    }
    this.#counters.graftsExhausted++;
    this.#missing.delete(timer.id);
  }

  /**
   * The other missing messages of `source` that `peer` announced and that are as overdue as `id`, asked
   * for in the same Graft or Want: when a parent stalls, every message it owes times out together, and
   * asking one message at a time sent a request (and a Graft's link change) per message. `delivering`:
   * only those the tree has already pushed past (the others may still come down it). Each one taken moves
   * on to its next announcer, with a timer of its own for the case the answer does not come.
   */
  #alongWith(id: string, source: string, peer: PeerId, delivering: boolean, out: PlumTreeOutput): string[] {
    const along: string[] = [];
    if (!this.options.askAlong) return along;
    const room = PLUMTREE_LIMITS.maxIdsPerMessage - 1;
    const pushedPast = this.#trees.get(source)?.highestPushed ?? Number.NEGATIVE_INFINITY;
    const wait = this.#graftWait.next(this.#now);
    for (const [other, missing] of this.#missing.entries()) {
      if (along.length >= room) break;
      if (other === id || this.#treeOf(other) !== source) continue;
      let at = missing.next;
      while (at < missing.announcers.length && missing.announcers[at]?.peer !== peer) at++;
      if (at >= missing.announcers.length) continue;
      if (delivering) {
        const order = this.#orderOf(other);
        if (order === undefined || order >= pushedPast) continue;
      }
      missing.next = at + 1;
      missing.checked = this.#pushes;
      along.push(other);
      out.setTimer({ type: 'graft', id: other, attempt: missing.next }, wait);
    }
    this.#counters.askedAlong += along.length;
    return along;
  }

  /** Whether the missing message's tree pushed a first copy of something since its timer last looked. */
  #stillDelivering(id: string, missing: Missing): boolean {
    const links = this.#trees.get(this.#treeOf(id));
    return links !== undefined && links.lastPush > missing.checked;
  }

  /**
   * Whether a missing message is most likely still on its way down the tree: within `graftDeferLimit`
   * of its first announcement, its tree pushed a first copy since the timer last looked, and none of
   * those came after it in the tree's order (a link delivers in order: one that did is past it).
   */
  #stillComing(id: string, missing: Missing): boolean {
    const limit = this.options.graftDeferLimit;
    if (limit <= 0 || this.#now - missing.since >= limit) return false;
    const links = this.#trees.get(this.#treeOf(id));
    if (links === undefined || links.lastPush <= missing.checked) return false;
    const order = this.#orderOf(id);
    return order === undefined || links.highestPushed < order;
  }
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
