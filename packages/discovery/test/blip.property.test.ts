import { fc, it } from '@fast-check/vitest';
import { seededRng } from '@netmachine/overlay';
import { describe, expect, vi } from 'vitest';
import {
  type BlipParams,
  BlipParamsError,
  blipCounts,
  blipFilter,
  blipPositions,
  blipSimilarity,
  blipTargetSimilarity,
  bloomFilter,
  DEFAULT_BLIP_PARAMS,
} from '../src/blip.js';

vi.setConfig({ testTimeout: 120_000 });

/** Two domain sets drawn from one pool, so that they overlap by any amount from nothing to everything. */
const setPair = fc
  .uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 2, maxLength: 16 })
  .chain((pool) =>
    fc.tuple(
      fc.subarray(pool, { minLength: 1, maxLength: Math.min(8, pool.length) }),
      fc.subarray(pool, { minLength: 1, maxLength: Math.min(8, pool.length) }),
    ),
  );

function jaccard(a: readonly string[], b: readonly string[]): number {
  const sb = new Set(b);
  const both = a.filter((x) => sb.has(x)).length;
  return both / new Set([...a, ...b]).size;
}

function trueInnerProduct(a: readonly string[], b: readonly string[], params: BlipParams): number {
  const bits = (set: readonly string[]) => new Set(set.flatMap((d) => blipPositions(d, params)));
  const ba = bits(a);
  return [...bits(b)].filter((i) => ba.has(i)).length;
}

/** Mean absolute error of the estimate against the exact Jaccard similarity over `runs` random pairs. */
function meanAbsoluteError(params: BlipParams, runs: number, seed: number): number {
  const rng = seededRng(seed);
  const pairs = fc.sample(setPair, { seed, numRuns: runs });
  let total = 0;
  for (const [a, b] of pairs) {
    total += Math.abs(
      blipSimilarity(blipFilter(a, params, rng), blipFilter(b, params, rng), params) - jaccard(a, b),
    );
  }
  return total / pairs.length;
}

describe('BLIP', () => {
  it.prop([setPair, fc.integer()])('the estimate is a similarity in [0, 1]', ([a, b], seed) => {
    const rng = seededRng(seed);
    const p = DEFAULT_BLIP_PARAMS;
    const s = blipSimilarity(blipFilter(a, p, rng), blipFilter(b, p, rng), p);
    expect(s).toBeGreaterThanOrEqual(0);
    expect(s).toBeLessThanOrEqual(1);
  });

  it.prop([setPair, fc.integer()])(
    'without flips (ε → ∞) and without collisions the estimate is the exact Jaccard similarity',
    ([a, b], seed) => {
      const params = { bits: 8192, hashes: 1, epsilon: 1000 };
      const positions = new Set([...a, ...b].flatMap((d) => blipPositions(d, params)));
      fc.pre(positions.size === new Set([...a, ...b]).size); // no two domains share a bit
      const rng = seededRng(seed);
      const s = blipSimilarity(blipFilter(a, params, rng), blipFilter(b, params, rng), params);
      expect(s).toBeCloseTo(jaccard(a, b), 2);
    },
  );

  it.prop([setPair], { numRuns: 20 })(
    'the inner-product estimate is unbiased: its mean over many flips is the true inner product',
    ([a, b]) => {
      const params = { bits: 64, hashes: 2, epsilon: 2 };
      const rng = seededRng(a.length * 31 + b.length);
      const draws = 2000;
      let sum = 0;
      let sumSq = 0;
      for (let i = 0; i < draws; i++) {
        const { both } = blipCounts(blipFilter(a, params, rng), blipFilter(b, params, rng), params);
        sum += both;
        sumSq += both * both;
      }
      const mean = sum / draws;
      const stdErr = Math.sqrt((sumSq / draws - mean * mean) / draws);
      // Five standard errors: a biased estimator (e.g. one that forgot the flips) is far outside.
      expect(Math.abs(mean - trueInnerProduct(a, b, params))).toBeLessThan(5 * stdErr);
    },
  );

  it('the error against the exact Jaccard similarity shrinks as ε grows (figures in the README)', () => {
    const runs = 1500;
    const errors: Record<number, number> = {};
    for (const epsilon of [1, 2, 4]) {
      errors[epsilon] = meanAbsoluteError({ ...DEFAULT_BLIP_PARAMS, epsilon }, runs, 7);
    }
    // The error of answering 0 for every pair: the bar an estimate must clear to carry information.
    const zeroError =
      fc.sample(setPair, { seed: 7, numRuns: runs }).reduce((s, [a, b]) => s + jaccard(a, b), 0) / runs;
    console.log(
      `BLIP mean absolute error (bits ${DEFAULT_BLIP_PARAMS.bits}, hashes ${DEFAULT_BLIP_PARAMS.hashes}, ` +
        `${runs} pairs): ε=1 ${errors[1]!.toFixed(3)}, ε=2 ${errors[2]!.toFixed(3)}, ` +
        `ε=4 ${errors[4]!.toFixed(3)}; answering 0: ${zeroError.toFixed(3)}`,
    );
    expect(errors[2]!).toBeLessThan(errors[1]!);
    expect(errors[4]!).toBeLessThan(errors[2]!);
    expect(errors[4]!).toBeLessThan(zeroError / 2);
    expect(errors[1]!).toBeLessThan(0.45);
  });

  it('refuses parameters out of range and filters of the wrong length', () => {
    const rng = seededRng(1);
    expect(() => blipFilter(['a'], { bits: 0, hashes: 1, epsilon: 1 }, rng)).toThrow(BlipParamsError);
    expect(() => blipFilter(['a'], { bits: 64, hashes: 0, epsilon: 1 }, rng)).toThrow(BlipParamsError);
    expect(() => blipFilter(['a'], { bits: 64, hashes: 1, epsilon: 0 }, rng)).toThrow(BlipParamsError);
    expect(() => blipFilter(['a'], { bits: 1 << 20, hashes: 1, epsilon: 1 }, rng)).toThrow(BlipParamsError);
    const f = blipFilter(['a'], DEFAULT_BLIP_PARAMS, rng);
    expect(() => blipSimilarity(f, new Uint8Array(3), DEFAULT_BLIP_PARAMS)).toThrow(BlipParamsError);
  });
});

describe('BLIP toward a lookup target', () => {
  it.prop([setPair, fc.integer()])(
    'without flips, the target score is 1 for a member and the share of covered bits otherwise',
    ([a, b], seed) => {
      const params = { bits: 8192, hashes: 1, epsilon: 1000 };
      const domain = b[0] as string;
      const score = blipTargetSimilarity(
        blipFilter(a, params, seededRng(seed)),
        bloomFilter([domain], params),
        params,
      );
      const covered = new Set(a.flatMap((d) => blipPositions(d, params))).has(
        blipPositions(domain, params)[0]!,
      );
      expect(score).toBeCloseTo(covered ? 1 : 0, 5);
    },
  );

  it('with flips, members of the target domain score above non-members on average', () => {
    const rng = seededRng(3);
    const params = DEFAULT_BLIP_PARAMS;
    const pairs = fc.sample(setPair, { seed: 3, numRuns: 1000 });
    let member = 0;
    let members = 0;
    let other = 0;
    let others = 0;
    for (const [a, b] of pairs) {
      const domain = b[0] as string;
      const score = blipTargetSimilarity(blipFilter(a, params, rng), bloomFilter([domain], params), params);
      if (a.includes(domain)) {
        member += score;
        members++;
      } else {
        other += score;
        others++;
      }
    }
    expect(members).toBeGreaterThan(50);
    expect(member / members).toBeGreaterThan(0.8);
    expect(other / others).toBeLessThan(0.3);
  });
});
