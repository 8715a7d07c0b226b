import type { NodeId } from '@netmachine/core';
import { parseRelayAddress } from './protocol.js';
import type { RelayContext, RelayOptions } from './service-types.js';

/**
 * Which relays reach a node, and whether a node is better reached by relay: the relays its advert
 * names, the return paths learned from what came in through a relay, and the nodes whose direct
 * dial failed (tried again now and then).
 */
export class RelayPaths {
  readonly #c: Pick<RelayContext, 'node' | 'identity' | 'relayPath'>;
  readonly #o: Pick<RelayOptions, 'probeIntervalMs'>;
  readonly #maxPaths: number;
  /** Nodes whose direct dial failed, with when a direct connection is next tried. */
  readonly #directFailed = new Map<NodeId, number>();
  /** Sources that reached us through a relay: replies go back the same way. */
  readonly #returnPaths = new Map<NodeId, NodeId>();
  readonly #parsedAdverts = new WeakMap<object, NodeId[]>();

  constructor(context: Pick<RelayContext, 'node' | 'identity' | 'relayPath'>, options: RelayOptions) {
    this.#c = context;
    this.#o = options;
    this.#maxPaths = options.maxPaths ?? 4096;
  }

  /** Nodes reached through a relay now (not connected directly), with the relay that would be used. */
  relayed(): Record<NodeId, NodeId> {
    const out: Record<NodeId, NodeId> = {};
    for (const node of new Set([...this.#returnPaths.keys(), ...this.#directFailed.keys()])) {
      if (this.#c.relayPath.isConnected(node)) continue;
      const via = this.pickRelay(node);
      if (via !== undefined) out[node] = via;
    }
    return out;
  }

  reaches(node: NodeId): boolean {
    // Asked by the router for every message to a node without a link: no array is built for it.
    return this.#advertisedRelays(node).length > 0 || this.#returnPaths.has(node);
  }

  directFailed(node: NodeId): void {
    const interval = this.#o.probeIntervalMs ?? 10_000;
    remember(
      this.#directFailed,
      node,
      interval > 0 ? Date.now() + interval : Number.POSITIVE_INFINITY,
      this.#maxPaths,
    );
  }

  /** `source` reached us through relay `via`: replies to it go back that way. */
  learnReturnPath(source: NodeId, via: NodeId): void {
    remember(this.#returnPaths, source, via, this.#maxPaths);
  }

  /** True when `dst` is better reached by relay although it has a dialable address. */
  prefersRelay(dst: NodeId): boolean {
    const retryAt = this.#directFailed.get(dst);
    if (retryAt !== undefined) {
      if (Date.now() >= retryAt) {
        // Time to try direct again, in the background: the relay carries on until it works.
        this.directFailed(dst);
        this.#c.relayPath.connect(dst).catch(() => {});
      }
      return true;
    }
    return this.#returnPaths.has(dst);
  }

  /** Relays for `node`: those its advert names, then the one it last reached us through. */
  relaysFor(node: NodeId): NodeId[] {
    const relays = [...this.#advertisedRelays(node)];
    const learned = this.#returnPaths.get(node);
    if (learned !== undefined && !relays.includes(learned)) relays.push(learned);
    return relays;
  }

  /** The first relay for `node` (in `relaysFor`'s order) that this node has a link to. */
  pickRelay(node: NodeId): NodeId | undefined {
    // Asked for every relayed message that opens a batch: no array is built for it.
    const path = this.#c.relayPath;
    for (const r of this.#advertisedRelays(node)) if (path.isConnected(r)) return r;
    const learned = this.#returnPaths.get(node);
    return learned !== undefined && path.isConnected(learned) ? learned : undefined;
  }

  /** The relays `node`'s advert names, parsed once per advert (asked on every relayed message). */
  #advertisedRelays(node: NodeId): readonly NodeId[] {
    const addrs = this.#c.identity.node(node)?.advert?.addrs;
    if (addrs === undefined) return [];
    let relays = this.#parsedAdverts.get(addrs);
    if (relays === undefined) {
      relays = [];
      for (const addr of addrs) {
        const r = parseRelayAddress(addr.url);
        if (r !== undefined && r !== this.#c.node && r !== node) relays.push(r);
      }
      this.#parsedAdverts.set(addrs, relays);
    }
    return relays;
  }
}

/** Sets `key` to `value` in a map bounded to `max` entries (the oldest goes first). */
export function remember<V>(map: Map<NodeId, V>, key: NodeId, value: V, max: number): void {
  // Already there with this value: kept in place (a per-message refresh would cost a delete and a set).
  if (map.get(key) === value) return;
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value as NodeId);
}
