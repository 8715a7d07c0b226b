import { createHash } from 'node:crypto';
import { NetmachineError } from '@netmachine/core';
import type { Rng } from '@netmachine/overlay';

// BLIP (Bloom-and-flIP; Alaggan, Gambs, Kermarrec): a node publishes a Bloom filter of its domain
// memberships in which every bit has been flipped with probability p = 1 / (1 + e^(ε/k)). One domain
// sets at most k bits, so adding or removing one domain changes at most k bits, and the flips make the
// published filter ε-differentially private for each membership. Two flipped filters still let anyone
// estimate how similar the two sets are: every flipped bit x' satisfies E[x'] = p + (1 − 2p)·x, so
// (x' − p) / (1 − 2p) is an unbiased estimate of the true bit, and, the two filters' flips being
// independent, Σ (a'ᵢ − p)(b'ᵢ − p) / (1 − 2p)² is an unbiased estimate of the inner product of the
// true filters. From the estimated bit counts of A, B and A ∪ B the set sizes follow (the standard
// Bloom filter cardinality estimate), and from those the Jaccard similarity |A ∩ B| / |A ∪ B|.
//
// A node must draw its flipped filter once per membership set and reuse it: publishing fresh flips of
// the same set again and again lets an observer average the noise away.

/** The shape of a BLIP filter: `bits` in the Bloom filter, `hashes` positions per domain, privacy `epsilon`. */
export interface BlipParams {
  bits: number;
  hashes: number;
  epsilon: number;
}

/** Defaults (errors measured in the package README): 64 bits, 1 hash, ε = 4. */
export const DEFAULT_BLIP_PARAMS: Readonly<BlipParams> = Object.freeze({ bits: 64, hashes: 1, epsilon: 4 });

/** Largest filter accepted (bits): a bound on what a peer can make us allocate or scan. */
export const MAX_BLIP_BITS = 8192;
/** Most hash positions per domain. */
export const MAX_BLIP_HASHES = 16;

/** BLIP parameters out of range, or a filter whose length does not match them. */
export class BlipParamsError extends NetmachineError {
  constructor(message: string) {
    super('ERR_BLIP_PARAMS', message);
  }
}

/** The probability with which each bit of the Bloom filter is flipped. */
export function blipFlipProbability(params: BlipParams): number {
  return 1 / (1 + Math.exp(params.epsilon / params.hashes));
}

/** Bytes in a packed filter of `params.bits` bits. */
export function blipFilterBytes(params: BlipParams): number {
  return Math.ceil(params.bits / 8);
}

export function checkBlipParams(params: BlipParams): void {
  const { bits, hashes, epsilon } = params;
  if (!Number.isInteger(bits) || bits < 8 || bits > MAX_BLIP_BITS) {
    throw new BlipParamsError(`bits must be an integer in [8, ${MAX_BLIP_BITS}], got ${bits}`);
  }
  if (!Number.isInteger(hashes) || hashes < 1 || hashes > MAX_BLIP_HASHES) {
    throw new BlipParamsError(`hashes must be an integer in [1, ${MAX_BLIP_HASHES}], got ${hashes}`);
  }
  if (!Number.isFinite(epsilon) || epsilon <= 0) {
    throw new BlipParamsError(`epsilon must be a positive number, got ${epsilon}`);
  }
}

/** The Bloom filter positions of one domain: double hashing over one SHA-256 digest. */
export function blipPositions(domain: string, params: Pick<BlipParams, 'bits' | 'hashes'>): number[] {
  const digest = createHash('sha256').update('netmachine/blip/1\0').update(domain).digest();
  const h1 = digest.readUInt32LE(0);
  // Odd, so that successive positions differ whenever `bits` is a power of two.
  const h2 = (digest.readUInt32LE(4) | 1) >>> 0;
  const positions: number[] = [];
  for (let j = 0; j < params.hashes; j++) positions.push((h1 + j * h2) % params.bits);
  return positions;
}

/**
 * The flipped Bloom filter of `domains`, bits packed little-endian within each byte (bit i is
 * `filter[i >> 3] >> (i & 7) & 1`). The flips come from `rng`: give it a cryptographically seeded one on
 * a real node, since the flips are what protects the memberships.
 */
export function blipFilter(domains: readonly string[], params: BlipParams, rng: Rng): Uint8Array {
  checkBlipParams(params);
  const filter = new Uint8Array(blipFilterBytes(params));
  for (const domain of domains) {
    for (const i of blipPositions(domain, params)) filter[i >> 3]! |= 1 << (i & 7);
  }
  const p = blipFlipProbability(params);
  for (let i = 0; i < params.bits; i++) {
    if (rng.next() < p) filter[i >> 3]! ^= 1 << (i & 7);
  }
  return filter;
}

/** The exact (unflipped) Bloom filter of `domains`: a lookup's target, which names its domain anyway. */
export function bloomFilter(
  domains: readonly string[],
  params: Pick<BlipParams, 'bits' | 'hashes'>,
): Uint8Array {
  const filter = new Uint8Array(Math.ceil(params.bits / 8));
  for (const domain of domains) {
    for (const i of blipPositions(domain, params)) filter[i >> 3]! |= 1 << (i & 7);
  }
  return filter;
}

/**
 * How much of an exact `target` filter (see `bloomFilter`) the true filter behind a flipped one covers,
 * in [0, 1]: the unbiased estimate of each target bit, averaged. About 1 for a member of the target's
 * domain, near 0 for a node whose domains share no bit with it: the distance greedy routing follows.
 */
export function blipTargetSimilarity(filter: Uint8Array, target: Uint8Array, params: BlipParams): number {
  checkBlipParams(params);
  const bytes = blipFilterBytes(params);
  if (filter.length !== bytes || target.length !== bytes) {
    throw new BlipParamsError(`filters of ${filter.length} and ${target.length} bytes, expected ${bytes}`);
  }
  const p = blipFlipProbability(params);
  let bits = 0;
  let sum = 0;
  for (let i = 0; i < params.bits; i++) {
    if (((target[i >> 3]! >> (i & 7)) & 1) === 0) continue;
    bits++;
    sum += (((filter[i >> 3]! >> (i & 7)) & 1) - p) / (1 - 2 * p);
  }
  return bits === 0 ? 0 : Math.min(Math.max(sum / bits, 0), 1);
}

/** Unbiased estimates of the true filters' set-bit counts and of their inner product. */
export interface BlipCounts {
  /** Estimated set bits of the first filter. */
  a: number;
  /** Estimated set bits of the second filter. */
  b: number;
  /** Estimated bits set in both. */
  both: number;
}

/** Estimates the bit counts and inner product of the true (unflipped) filters behind `a` and `b`. */
export function blipCounts(a: Uint8Array, b: Uint8Array, params: BlipParams): BlipCounts {
  checkBlipParams(params);
  const bytes = blipFilterBytes(params);
  if (a.length !== bytes || b.length !== bytes) {
    throw new BlipParamsError(`filters of ${a.length} and ${b.length} bytes, expected ${bytes}`);
  }
  const p = blipFlipProbability(params);
  const scale = 1 - 2 * p;
  let sumA = 0;
  let sumB = 0;
  let sumAB = 0;
  for (let i = 0; i < params.bits; i++) {
    const x = ((a[i >> 3]! >> (i & 7)) & 1) - p;
    const y = ((b[i >> 3]! >> (i & 7)) & 1) - p;
    sumA += x;
    sumB += y;
    sumAB += x * y;
  }
  return { a: sumA / scale, b: sumB / scale, both: sumAB / (scale * scale) };
}

/** The number of elements behind `setBits` of `bits` bits filled by `hashes` positions each. */
function cardinality(setBits: number, bits: number, hashes: number): number {
  // Estimates can leave [0, bits]; clamp just inside so the logarithm stays finite.
  const t = Math.min(Math.max(setBits, 0), bits - 0.5);
  return (-bits / hashes) * Math.log(1 - t / bits);
}

/**
 * The estimated Jaccard similarity |A ∩ B| / |A ∪ B| of the domain sets behind two flipped filters, in
 * [0, 1]. Two empty sets have similarity 0 (nothing in common to cluster on).
 */
export function blipSimilarity(a: Uint8Array, b: Uint8Array, params: BlipParams): number {
  const counts = blipCounts(a, b, params);
  const union = Math.max(counts.a + counts.b - counts.both, 0);
  const nA = cardinality(counts.a, params.bits, params.hashes);
  const nB = cardinality(counts.b, params.bits, params.hashes);
  const nUnion = cardinality(union, params.bits, params.hashes);
  if (nUnion <= 0) return 0;
  const nBoth = nA + nB - nUnion;
  return Math.min(Math.max(nBoth / nUnion, 0), 1);
}
