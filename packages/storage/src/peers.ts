import type { NodeId } from '@netmachine/core';

/** What a fetch learned about one peer. */
export interface PeerScore {
  readonly node: NodeId;
  /** Chunks it served that verified. */
  served: number;
  /** Chunks it served that did not hash to the id asked for. */
  corrupt: number;
  /** Requests that failed (timeout, connection loss, malformed reply). */
  failures: number;
  /** Requests it answered with not-found. */
  notFound: number;
  inFlight: number;
  /** When it last served a good chunk (ms), 0 if never. */
  lastSuccess: number;
  /** When it was last sent a request while it had none in flight (ms): the start of its busy time. */
  busySince: number;
}

/** Most peers a fetch keeps track of (given, plus learned from commitments). */
const MAX_PEERS = 256;
/**
 * A peer with requests in flight that has served nothing for this long is presumed stalled (a
 * dead process whose requests only fail at their timeout): new requests go elsewhere first. On a
 * slow link the bar rises to a multiple of the typical request time, so slowness is not a stall.
 */
const MIN_STALL_MS = 2_000;
const STALL_LATENCIES = 4;

/**
 * The peers a fetch may ask, best first: never-corrupt before corrupt, fewer failures first, not
 * stalled before stalled, then the least busy, then the most recently successful (as the spec asks for nodes learned from
 * commitments). A peer that sent a bad chunk stays usable as a last resort: the chunk is verified
 * anyway, and it may be the only holder of the rest.
 */
export class PeerBook {
  readonly #peers = new Map<NodeId, PeerScore>();
  /** Moving average of successful request times (ms), over all peers. */
  #latency = 0;

  constructor(nodes: readonly NodeId[]) {
    for (const node of nodes) this.add(node);
  }

  add(node: NodeId): boolean {
    if (this.#peers.has(node) || this.#peers.size >= MAX_PEERS) return false;
    this.#peers.set(node, {
      node,
      served: 0,
      corrupt: 0,
      failures: 0,
      notFound: 0,
      inFlight: 0,
      lastSuccess: 0,
      busySince: 0,
    });
    return true;
  }

  get size(): number {
    return this.#peers.size;
  }

  scores(): PeerScore[] {
    return [...this.#peers.values()].map((p) => ({ ...p }));
  }

  /** The best peer not in `exclude`, or undefined when every peer was tried. */
  pick(exclude: ReadonlySet<NodeId>, now = Date.now()): PeerScore | undefined {
    let best: PeerScore | undefined;
    for (const peer of this.#peers.values()) {
      if (exclude.has(peer.node)) continue;
      if (best === undefined || this.#better(peer, best, now)) best = peer;
    }
    return best;
  }

  /** The best peer not in `exclude` that is not stalled (for a hedged request). */
  pickResponsive(exclude: ReadonlySet<NodeId>, now = Date.now()): PeerScore | undefined {
    const best = this.pick(exclude, now);
    return best === undefined || this.#stalled(best, now) ? undefined : best;
  }

  isStalled(peer: PeerScore, now = Date.now()): boolean {
    return this.#stalled(peer, now);
  }

  /** Records a verified answer from `peer` that took `ms`. */
  succeeded(peer: PeerScore, ms: number, now = Date.now()): void {
    peer.served++;
    peer.lastSuccess = now;
    this.#latency = this.#latency === 0 ? ms : this.#latency * 0.8 + ms * 0.2;
  }

  #stalled(peer: PeerScore, now: number): boolean {
    const bar = Math.max(MIN_STALL_MS, STALL_LATENCIES * this.#latency);
    return peer.inFlight > 0 && now - Math.max(peer.lastSuccess, peer.busySince) > bar;
  }

  /** Marks a request sent to `peer`. */
  started(peer: PeerScore, now = Date.now()): void {
    if (peer.inFlight === 0) peer.busySince = now;
    peer.inFlight++;
  }

  #better(a: PeerScore, b: PeerScore, now: number): boolean {
    if (a.corrupt > 0 !== b.corrupt > 0) return a.corrupt === 0;
    if (a.failures !== b.failures) return a.failures < b.failures;
    const aStalled = this.#stalled(a, now);
    if (aStalled !== this.#stalled(b, now)) return !aStalled;
    if (a.inFlight !== b.inFlight) return a.inFlight < b.inFlight;
    return a.lastSuccess > b.lastSuccess;
  }
}
