// The network model: how long a message takes between two nodes, how often it is lost, who can reach whom.
//
// Latency is drawn once per pair of nodes (from a hash of the seed and the pair), not per message: a
// link's delay is constant, so messages on one link arrive in the order they were sent, as over TCP.

/** How one-way latency is distributed over the pairs of nodes (milliseconds). */
export type LatencyModel =
  | { readonly distribution: 'constant'; readonly ms: number }
  | { readonly distribution: 'uniform'; readonly min: number; readonly max: number }
  /** Heavy-tailed, as measured on the internet: median `median`, spread `sigma`, never below `min`. */
  | {
      readonly distribution: 'lognormal';
      readonly median: number;
      readonly sigma: number;
      readonly min: number;
    };

export interface NetworkModel {
  readonly latency: LatencyModel;
  /** Probability that any one message is lost (0..1). */
  readonly loss: number;
  /** How long a connect to an unreachable or dead peer takes to fail. */
  readonly connectTimeout: number;
  /** How long after a crash (or a partition) the crashed node's connected peers see `peerDown`. */
  readonly failureDetection: number;
}

export const DEFAULT_NETWORK: NetworkModel = {
  latency: { distribution: 'uniform', min: 10, max: 100 },
  loss: 0,
  connectTimeout: 3_000,
  failureDetection: 1_000,
};

/** A well-mixed 32-bit hash of three integers (murmur3's finaliser over a simple combination). */
export function mix3(a: number, b: number, c: number): number {
  let h =
    Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35) ^ Math.imul(c, 0x27d4eb2f);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The latency between nodes `a` and `b` (symmetric), drawn from `model` by a hash of (seed, a, b). */
export function pairLatency(model: LatencyModel, seed: number, a: number, b: number): number {
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  const u1 = (mix3(seed, lo, hi) + 0.5) / 4294967296;
  switch (model.distribution) {
    case 'constant':
      return model.ms;
    case 'uniform':
      return model.min + u1 * (model.max - model.min);
    case 'lognormal': {
      const u2 = (mix3(seed ^ 0x5bd1e995, hi, lo) + 0.5) / 4294967296;
      const normal = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
      return Math.max(model.min, model.median * Math.exp(model.sigma * normal));
    }
  }
}
