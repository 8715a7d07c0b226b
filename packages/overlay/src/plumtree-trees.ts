import type { Millis, PeerId } from './protocol.js';

// The neighbours of a PlumTree node and, per source, which of them are tree (eager) links and which are
// lazy. A neighbour with no tree yet counts as eager, as every new tree starts so. Trees are kept least
// recently used first and bounded: a forgotten source's next message floods again.

/** One source's tree: which neighbours push its messages eagerly. */
export interface TreeLinks {
  readonly eager: Set<PeerId>;
  readonly lazy: Set<PeerId>;
  /** When each neighbour last grafted its link to this node in this tree. */
  readonly graftedAt: Map<PeerId, Millis>;
  /** The push number (PlumTree's `#pushes`) of the last first copy pushed down this tree, and the highest `orderOf` of those. */
  lastPush: number;
  highestPushed: number;
  /**
   * The neighbour that pushed the last first copy down this tree: the parent. A payload this node had
   * to fetch is not forwarded to it (it had the payload before us, only late), or the parent would take
   * our copy for a cycle and prune the link it feeds us by.
   */
  pusher: PeerId | undefined;
  /** First copies in a row that `pusher` sent over a link this node had pruned. */
  lazyRun: number;
}

export class SourceTrees {
  readonly #maxTrees: number;
  /** The overlay's neighbours, in the order they came up. */
  readonly #neighbors = new Set<PeerId>();
  /** Trees by source, least recently used first; at most `maxTrees`. */
  readonly #trees = new Map<string, TreeLinks>();

  constructor(maxTrees: number) {
    this.#maxTrees = maxTrees;
  }

  /** Trees kept. */
  get size(): number {
    return this.#trees.size;
  }

  isNeighbor(peer: PeerId): boolean {
    return this.#neighbors.has(peer);
  }

  /** The neighbours, in the order they came up. */
  neighbors(): PeerId[] {
    return [...this.#neighbors];
  }

  /** A new neighbour is an eager link in every tree; false if it already was a neighbour. */
  addNeighbor(peer: PeerId): boolean {
    if (this.#neighbors.has(peer)) return false;
    this.#neighbors.add(peer);
    for (const links of this.#trees.values()) links.eager.add(peer);
    return true;
  }

  /** Drops a neighbour from every tree; false if it was not a neighbour. */
  removeNeighbor(peer: PeerId): boolean {
    const known = this.#neighbors.delete(peer);
    for (const links of this.#trees.values()) {
      links.eager.delete(peer);
      links.lazy.delete(peer);
      links.graftedAt.delete(peer);
      if (links.pusher === peer) links.pusher = undefined;
    }
    return known;
  }

  /** The tree of `source` if there is one, without marking it used. */
  get(source: string): TreeLinks | undefined {
    return this.#trees.get(source);
  }

  /** The tree of `source`, made (every neighbour eager) if new, and marked most recently used. */
  use(source: string): TreeLinks {
    const trees = this.#trees;
    let links = trees.get(source);
    if (links !== undefined) {
      trees.delete(source);
      trees.set(source, links);
      return links;
    }
    links = {
      eager: new Set(this.#neighbors),
      lazy: new Set(),
      graftedAt: new Map(),
      lastPush: 0,
      highestPushed: Number.NEGATIVE_INFINITY,
      pusher: undefined,
      lazyRun: 0,
    };
    trees.set(source, links);
    // Full: the least recently used tree is forgotten; its source's next message floods again.
    if (trees.size > this.#maxTrees) trees.delete(trees.keys().next().value as string);
    return links;
  }

  /** The sources with a tree here, least recently used first. */
  sources(): string[] {
    return [...this.#trees.keys()];
  }

  /** The eager links of `tree` (every neighbour when it has none yet), without copying. */
  eagerOf(tree: string): ReadonlySet<PeerId> {
    return this.#trees.get(tree)?.eager ?? this.#neighbors;
  }

  /** The lazy links of `tree` (none when it has none yet). */
  lazyOf(tree: string): PeerId[] {
    return [...(this.#trees.get(tree)?.lazy ?? [])];
  }

  /** Whether `peer` is an eager link in any tree (or there is no tree yet). */
  isEagerAnywhere(peer: PeerId): boolean {
    if (this.#trees.size === 0) return true;
    for (const links of this.#trees.values()) if (links.eager.has(peer)) return true;
    return false;
  }
}
