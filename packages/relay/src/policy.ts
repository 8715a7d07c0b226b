import type { DomainId, NodeId } from '@netmachine/core';
import { TokenBucket } from './token-bucket.js';

/** Whom a relay relays for (sources) and serves (destinations that register with it). */
export type RelayPolicy =
  | { readonly kind: 'anyone' }
  | { readonly kind: 'allow'; readonly nodes: readonly NodeId[] }
  | {
      readonly kind: 'domains';
      readonly domains: readonly DomainId[];
      /** Whether `node` is a member of `domain` (the domain service's view; read on every message). */
      readonly isMember: (domain: DomainId, node: NodeId) => boolean;
    };

/** A rate: messages and bytes per second, each with a burst of one second's worth unless given. */
export interface RateLimit {
  readonly messagesPerSecond: number;
  readonly bytesPerSecond: number;
  readonly burstSeconds?: number;
}

/** What a node offers as a relay. */
export interface RelayOffer {
  readonly policy: RelayPolicy;
  /** Per source node (default 2,000 msgs/s and 4 MiB/s). */
  readonly perSource?: RateLimit;
  /** Over all sources (default 20,000 msgs/s and 32 MiB/s). */
  readonly total?: RateLimit;
  /** Sources whose rate state is kept; the oldest is forgotten beyond (default 4096). */
  readonly maxSources?: number;
  /** Destinations served at once (default 4096). */
  readonly maxServed?: number;
  /** Forward to another relay named in the destination's advert (default false: one relay only). */
  readonly multiHop?: boolean;
  /** Relays a message may cross with multi-hop (default 2). */
  readonly maxHops?: number;
  /**
   * Messages waiting in the queue to one destination above which the relay holds back: it takes
   * nothing more from its links until that queue is down to half (backpressure to the sources), for
   * at most `holdMs`, then refuses with `over-capacity` (default 64: with a full batch each, 1 MiB).
   */
  readonly queuePerDestination?: number;
  /** Longest the relay holds back for one destination before refusing with `over-capacity`, in ms (default 1000). */
  readonly holdMs?: number;
}

export const DEFAULT_PER_SOURCE: RateLimit = { messagesPerSecond: 2000, bytesPerSecond: 4 * 1024 * 1024 };
export const DEFAULT_TOTAL: RateLimit = { messagesPerSecond: 20_000, bytesPerSecond: 32 * 1024 * 1024 };

export function admits(policy: RelayPolicy, node: NodeId): boolean {
  switch (policy.kind) {
    case 'anyone':
      return true;
    case 'allow':
      return policy.nodes.includes(node);
    case 'domains':
      return policy.domains.some((domain) => policy.isMember(domain, node));
  }
}

/** A message and a byte bucket for one rate. */
export class RateGate {
  readonly #messages: TokenBucket;
  readonly #bytes: TokenBucket;

  constructor(limit: RateLimit, now: () => number = Date.now) {
    const burst = limit.burstSeconds ?? 1;
    this.#messages = new TokenBucket(limit.messagesPerSecond, limit.messagesPerSecond * burst, now);
    this.#bytes = new TokenBucket(limit.bytesPerSecond, limit.bytesPerSecond * burst, now);
  }

  /** Takes one message of `bytes`; false when either bucket is short (then nothing is taken of the message count). */
  take(bytes: number): boolean {
    if (!this.#bytes.take(bytes)) return false;
    return this.#messages.take(1);
  }
}

/** Per-source rate state, bounded: beyond `max` sources the oldest entry is forgotten. */
export class SourceGates {
  readonly #gates = new Map<NodeId, RateGate>();

  constructor(
    readonly limit: RateLimit,
    readonly max: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.#gates.size;
  }

  take(source: NodeId, bytes: number): boolean {
    let gate = this.#gates.get(source);
    if (gate === undefined) {
      gate = new RateGate(this.limit, this.now);
      this.#gates.set(source, gate);
      if (this.#gates.size > this.max) this.#gates.delete(this.#gates.keys().next().value as NodeId);
    }
    return gate.take(bytes);
  }
}
