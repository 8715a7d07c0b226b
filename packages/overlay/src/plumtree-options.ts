import { PLUMTREE_LIMITS } from './plumtree-messages.js';
import type { Millis, PeerId } from './protocol.js';

// PlumTree's options: what each one tunes, their defaults, and the checks a constructor applies.

export interface PlumTreeOptions {
  /** How long after the first announcement of a missing payload to Graft its announcer. */
  readonly graftTimeout?: Millis;
  /** How long after a Graft to try the next announcer, if the payload still has not arrived. */
  readonly graftTimeout2?: Millis;
  /**
   * How far the graft timeouts may grow when pushes run late. When a pushed payload arrives some time
   * after a lazy neighbour announced it, the first Graft waits twice the latest such lag (and the next
   * announcer is tried after once that lag), forgotten by half every 2 s, never beyond this. At or
   * below `graftTimeout` the timeouts stay fixed.
   */
  readonly graftTimeoutMax?: Millis;
  /** Lazy announcements are batched per peer and flushed this long after the first one is queued. */
  readonly ihaveInterval?: Millis;
  /** Most payloads kept to answer Graft and Want (count); the oldest is evicted first. */
  readonly cacheSize?: number;
  /** Most bytes of payloads kept (default: no bound but `cacheSize`); the oldest is evicted first. */
  readonly cacheBytes?: number;
  /** And for how long (a payload older than this is evicted). */
  readonly cacheTtl?: Millis;
  /** Most message ids remembered as seen; the oldest is forgotten first (and would be delivered again). */
  readonly seenCapacity?: number;
  /** Largest payload accepted, sent or forwarded (default and ceiling: `PLUMTREE_LIMITS.maxPayloadBytes`). */
  readonly maxPayloadBytes?: number;
  /**
   * How long after a peer grafted its link to this node the link is kept whatever duplicates the peer
   * sends. Messages in flight when the peer changed parent still reach it over its old path, and it
   * forwards them here; were this node to prune for those, both the old and the new path of the peer
   * would be cut (the peer prunes the old one itself) and the tree would never settle. The peer that
   * grafted decides alone which of its links leaves the tree.
   */
  readonly pruneGrace?: Millis;
  /** Most trees (sources) kept; past it the least recently used is forgotten (its next message floods). */
  readonly maxTrees?: number;
  /**
   * How long a missing message's Graft may be put off while its tree is still delivering (0: never,
   * PlumTree's plain timers). When a graft timer fires, the Graft waits another timeout if, since the
   * timer was set, a first copy of another message of the same tree arrived by push, and none of those
   * comes after the missing one (`orderOf`). A link delivers in order, so a message missing behind the
   * latest delivery is most likely queued behind the ones arriving (the announcement overtook it); one
   * overtaken by a later message, or a tree that stops delivering, is repaired at once.
   */
  readonly graftDeferLimit?: Millis;
  /**
   * When a graft timer fires while the tree still delivers (a first copy was pushed since the timer
   * last looked) but not this message (overtaken, or past `graftDeferLimit`), fetch it with a Want
   * instead of a Graft (default true): the tree's parent is alive, so the link is left as it is
   * rather than made a second tree link whose old parent's pushes then arrive twice until pruned.
   * A copy of a fetched message pushed later by the parent is not taken for a cycle (no Prune). A
   * tree that stops delivering is grafted as before.
   */
  readonly wantWhileDelivering?: boolean;
  /**
   * A Graft or Want for a missing message also names every other missing message of its tree that the
   * same neighbour announced (up to `PLUMTREE_LIMITS.maxIdsPerMessage`; only those the tree has pushed
   * past, for a Want), each then moving on to its next announcer (default true). A stalled parent's
   * debt is asked for in one request instead of one per message.
   */
  readonly askAlong?: boolean;
  /**
   * A payload that arrived as the answer to a Graft or Want is announced (IHave) to the tree's parent
   * (the neighbour that pushed its last first copy) instead of pushed to it (default true): the parent
   * had it first and was only late, so our push would be a duplicate there, and its Prune would cut
   * the link it feeds us by.
   */
  readonly announceFetchedToParent?: boolean;
  /**
   * A duplicate pushed over a tree link does not prune it while the tree's first copies come from a
   * link this node has already pruned (default true). Two parents racing each deliver some messages
   * first: the node prunes the one that lost the last race, and while that Prune is on its way the
   * pruned parent still pushes and wins a few more; pruning the other for those left both pruned and
   * the node with no parent until a Graft.
   */
  readonly spareLastParent?: boolean;
  /**
   * A link this node pruned that then pushes it three first copies in a row is grafted again (default
   * true). A Prune waits in the sender's queue behind everything sent before it, seconds on a saturated
   * publisher; meanwhile that sender, having won, is the parent in fact, and once the Prune lands it
   * stops, leaving the node to Grafts and Wants. The Graft follows the Prune on the same link, so the
   * link ends up eager on both sides.
   */
  readonly regraftPrunedPusher?: boolean;
  /**
   * A message's place in its tree's order (the publisher's sequence), or undefined when it has none;
   * default: the decimal number after the id's last `/`. Used by `graftDeferLimit`.
   */
  readonly orderOf?: (id: string) => number | undefined;
  /** Hops saved that make a lazy link eager in place of the eager link (PlumTree's optimization). */
  readonly optimizationThreshold?: number;
  /** Most announced-but-missing ids tracked at once; announcements beyond it are ignored (counted). */
  readonly pendingCapacity?: number;
  /** Most announcers remembered per missing id; later ones are ignored. */
  readonly announcersPerId?: number;
  /**
   * Neighbours a fetch asks (default 0: every one). Fewer are asked in turn, so a fetch repeated for
   * what is still missing asks the next ones: each reply is a whole payload, and every neighbour that
   * holds it answers.
   */
  readonly fetchFrom?: number;
  /**
   * Called before a received payload is delivered or forwarded; false drops it (not forwarded, not
   * remembered as seen, so a genuine copy can still arrive) and emits `rejected`. This is where the
   * pub/sub layer checks the publisher's signature; it must be deterministic for the simulator.
   */
  readonly accept?: (id: string, payload: Uint8Array, from: PeerId) => boolean;
  /**
   * Called when a payload enters the cache (to answer Graft and Want); the function it returns, if
   * any, is called once the payload leaves it. A driver whose payloads are views of reused memory
   * holds that memory for as long as the cache needs it.
   */
  readonly retain?: (payload: Uint8Array) => (() => void) | undefined;
  /** The tree (source) a message id belongs to; default: the id up to its last `/` (`''` without one). */
  readonly treeOf?: (id: string) => string;
}

/** The default `treeOf`: `<source>/<seq>` → `<source>`. */
export function sourceOfId(id: string): string {
  const slash = id.lastIndexOf('/');
  return slash < 0 ? '' : id.slice(0, slash);
}

/** The default `orderOf`: `<source>/<seq>` → seq when it is a decimal number, else undefined. */
export function orderOfId(id: string): number | undefined {
  const tail = id.slice(id.lastIndexOf('/') + 1);
  return /^[0-9]{1,15}$/.test(tail) ? Number(tail) : undefined;
}

export const DEFAULT_PLUMTREE_OPTIONS: Readonly<
  Required<Omit<PlumTreeOptions, 'accept' | 'treeOf' | 'orderOf' | 'retain'>>
> = {
  graftTimeout: 80,
  graftTimeout2: 40,
  graftTimeoutMax: 1000,
  graftDeferLimit: 5000,
  wantWhileDelivering: true,
  askAlong: true,
  announceFetchedToParent: true,
  spareLastParent: true,
  regraftPrunedPusher: true,
  ihaveInterval: 50,
  pruneGrace: 500,
  cacheSize: 4096,
  cacheBytes: Number.POSITIVE_INFINITY,
  cacheTtl: 60_000,
  seenCapacity: 65_536,
  maxPayloadBytes: PLUMTREE_LIMITS.maxPayloadBytes,
  optimizationThreshold: 4,
  pendingCapacity: 4096,
  announcersPerId: 8,
  fetchFrom: 0,
  maxTrees: 256,
};

/** The numeric options, every one set: what `PlumTree.options` holds. */
export type ResolvedPlumTreeOptions = Required<
  Omit<PlumTreeOptions, 'accept' | 'treeOf' | 'orderOf' | 'retain'>
>;

/** Fills the defaults in and checks the ranges (a RangeError names the first option out of range). */
export function resolvePlumTreeOptions(
  options: Omit<PlumTreeOptions, 'accept' | 'treeOf' | 'orderOf' | 'retain'>,
): ResolvedPlumTreeOptions {
  const merged = { ...DEFAULT_PLUMTREE_OPTIONS, ...stripUndefined(options) };
  merged.maxPayloadBytes = Math.min(merged.maxPayloadBytes, PLUMTREE_LIMITS.maxPayloadBytes);
  for (const key of [
    'cacheSize',
    'seenCapacity',
    'pendingCapacity',
    'announcersPerId',
    'maxTrees',
  ] as const) {
    if (!Number.isInteger(merged[key]) || merged[key] < 1) {
      throw new RangeError(`${key} must be a positive integer`);
    }
  }
  if (!(merged.cacheBytes >= 1)) throw new RangeError('cacheBytes must be 1 or more');
  if (!(merged.graftDeferLimit >= 0)) throw new RangeError('graftDeferLimit must be 0 or more');
  if (!Number.isInteger(merged.fetchFrom) || merged.fetchFrom < 0) {
    throw new RangeError('fetchFrom must be a whole number (0: every neighbour)');
  }
  return merged;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
