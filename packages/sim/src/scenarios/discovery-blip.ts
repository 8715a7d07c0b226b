import { hashPair } from '@netmachine/discovery';
import type { Rng } from '@netmachine/overlay';

// BLIP (Alaggan, Gambs, Kermarrec, "BLIP: non-interactive differentially-private similarity
// computation on Bloom filters", SSS 2012) as the simulation uses it: a Bloom filter of a node's domains
// whose every bit is flipped with probability p = 1 / (1 + e^(ε/k)), which makes the filter
// ε-differentially private for the membership of any one domain; and the cosine similarity of the true
// filters estimated from two flipped ones. Same shape as `@netmachine/discovery`'s blip module.

export interface BlipParams {
  readonly bits: number;
  readonly hashes: number;
  readonly epsilon: number;
}

export function flipProbability(params: BlipParams): number {
  return 1 / (1 + Math.exp(params.epsilon / params.hashes));
}

const POPCOUNT = new Uint8Array(256).map((_, i) => {
  let n = 0;
  for (let x = i; x > 0; x >>= 1) n += x & 1;
  return n;
});

/** The Bloom filter positions of one domain (public hashes: every node computes the same). */
export function domainBits(domain: string, params: BlipParams): number[] {
  const [h1, h2] = hashPair(domain, 0x424c4950, 0x46494c54);
  const bits: number[] = [];
  for (let i = 0; i < params.hashes; i++) bits.push(((h1 + Math.imul(i, h2)) >>> 0) % params.bits);
  return bits;
}

/** The flipped Bloom filter of `domains` (bits packed, little-endian within a byte). */
export function blipFilter(domains: readonly string[], params: BlipParams, rng: Rng): Uint8Array {
  const filter = new Uint8Array(Math.ceil(params.bits / 8));
  for (const domain of domains) for (const bit of domainBits(domain, params)) setBit(filter, bit);
  const p = flipProbability(params);
  for (let bit = 0; bit < params.bits; bit++) if (rng.next() < p) flipBit(filter, bit);
  return filter;
}

/** The exact (unflipped) filter of one domain: the target a lookup is routed toward. */
export function exactFilter(domain: string, params: BlipParams): Uint8Array {
  const filter = new Uint8Array(Math.ceil(params.bits / 8));
  for (const bit of domainBits(domain, params)) setBit(filter, bit);
  return filter;
}

function popcount(bytes: Uint8Array): number {
  let n = 0;
  for (const b of bytes) n += POPCOUNT[b] as number;
  return n;
}

/**
 * Estimated cosine similarity of the true filters behind two flipped ones, in [0, 1]: a flipped bit x'
 * gives the unbiased estimate (x' − p) / (1 − 2p) of the true bit, and the inner product and the norms
 * are estimated from those.
 */
export function blipSimilarity(a: Uint8Array, b: Uint8Array, params: BlipParams): number {
  const p = flipProbability(params);
  const m = params.bits;
  let both = 0;
  for (let i = 0; i < a.length; i++) both += POPCOUNT[(a[i] as number) & (b[i] as number)] as number;
  const ones = popcount(a);
  const twos = popcount(b);
  const q = 1 - 2 * p;
  const inner = (both - p * (ones + twos) + p * p * m) / (q * q);
  const normA = (ones - p * m) / q;
  const normB = (twos - p * m) / q;
  if (inner <= 0 || normA <= 0 || normB <= 0) return 0;
  return Math.min(1, inner / Math.sqrt(normA * normB));
}

const targetBitsCache = new WeakMap<Uint8Array, number[]>();
const onesCache = new WeakMap<Uint8Array, number>();

function setBits(target: Uint8Array): number[] {
  let bits = targetBitsCache.get(target);
  if (bits === undefined) {
    bits = [];
    for (let bit = 0; bit < target.length * 8; bit++)
      if (((target[bit >> 3] as number) & (1 << (bit & 7))) !== 0) bits.push(bit);
    targetBitsCache.set(target, bits);
  }
  return bits;
}

/**
 * How close a peer's flipped filter is to an exact domain filter: the estimated cosine between the
 * peer's true filter and the domain's bits (1 for a member with no other domains, lower the more
 * domains it has, near 0 for others). Filters are immutable, so their bit counts are cached.
 */
export function targetSimilarity(filter: Uint8Array, target: Uint8Array, params: BlipParams): number {
  const p = flipProbability(params);
  const q = 1 - 2 * p;
  const bits = setBits(target);
  let inner = 0;
  for (const bit of bits) inner += (((filter[bit >> 3] as number) & (1 << (bit & 7))) !== 0 ? 1 - p : -p) / q;
  if (inner <= 0 || bits.length === 0) return 0;
  let ones = onesCache.get(filter);
  if (ones === undefined) {
    ones = popcount(filter);
    onesCache.set(filter, ones);
  }
  const norm = (ones - p * params.bits) / q;
  return Math.min(1, inner / Math.sqrt(bits.length * Math.max(norm, 1)));
}

function setBit(filter: Uint8Array, bit: number): void {
  filter[bit >> 3] = (filter[bit >> 3] as number) | (1 << (bit & 7));
}

function flipBit(filter: Uint8Array, bit: number): void {
  filter[bit >> 3] = (filter[bit >> 3] as number) ^ (1 << (bit & 7));
}
