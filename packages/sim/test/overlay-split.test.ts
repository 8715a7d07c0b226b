import { describe, expect, it } from 'vitest';
import { runOverlayScenario } from '../src/index.js';

// HyParView must end with one component whatever the order of joins, the active-view capacity or churn.
// Nine nodes joining one contact at once (or nearly) with three neighbours each, as in a small domain:
// before an under-full view was refilled periodically, and before a full node took one neighbour beyond
// capacity (and a repeatedly rejected node asked with high priority), about one run in a hundred stayed
// split for good: a clique of four full nodes that let no one in, or a group whose passive views held
// only full nodes. Measured a minute after the last join: with components labelled and probed, one seed
// of the 2,000 (1656, joins all at once) is still split at 30 s, two groups of full nodes, and joined 15 s
// later by a bridge.

// Thousands of simulated runs: seconds on an idle machine, several times that on a busy one.
const SLOW = 180_000;

function splitSeeds(joinInterval: number, seeds: number): number[] {
  const split: number[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const result = runOverlayScenario({
      nodes: 9,
      seed,
      joinInterval,
      settle: 60_000,
      crashFractions: [0],
      periodsAfterCrash: 0,
      hyparview: { activeViewCapacity: 3 },
    });
    if ((result.runs[0]?.joined.components ?? 0) !== 1) split.push(seed);
  }
  return split;
}

/** Seeds whose overlay is still split 30 shuffle periods after the first measurement. */
function lastingSplitSeeds(options: {
  nodes: number;
  capacity: number;
  seeds: number;
  joinInterval?: number;
  churn?: { perSecond: number; duration: number };
}): number[] {
  const split: number[] = [];
  for (let seed = 1; seed <= options.seeds; seed++) {
    const result = runOverlayScenario({
      nodes: options.nodes,
      seed,
      joinInterval: options.joinInterval ?? 0,
      settle: 30_000,
      crashFractions: [0],
      periodsAfterCrash: 30,
      hyparview: { activeViewCapacity: options.capacity },
      ...(options.churn === undefined ? {} : { churn: options.churn }),
    });
    if ((result.runs[0]?.afterCrash.components ?? 0) !== 1) split.push(seed);
  }
  return split;
}

describe('HyParView, nine nodes joining at once', () => {
  it('ends connected for every seed, joins all at once', { timeout: SLOW }, () => {
    expect(splitSeeds(0, 2000)).toEqual([]);
  });

  it('ends connected for every seed, joins 10 ms apart', { timeout: SLOW }, () => {
    expect(splitSeeds(10, 1000)).toEqual([]);
  });

  it('ends connected for every seed, joins 200 ms apart', { timeout: SLOW }, () => {
    expect(splitSeeds(200, 1000)).toEqual([]);
  });
});

// At capacity 2 full nodes have two neighbours each, so a component of full nodes is a ring, and nothing
// in the paper's protocol makes a node of a ring ask anyone: before components were labelled and probed,
// 46 of 200 runs of nine nodes, and 96 of 100 runs of 100 nodes, stayed split into rings for good.
describe('HyParView at active-view capacity 2', () => {
  it('joins the rings: nine nodes joining at once end connected for every seed', { timeout: SLOW }, () => {
    expect(lastingSplitSeeds({ nodes: 9, capacity: 2, seeds: 300 })).toEqual([]);
  });

  it('joins the rings: thirty nodes joining 10 ms apart end connected for every seed', {
    timeout: SLOW,
  }, () => {
    expect(lastingSplitSeeds({ nodes: 30, capacity: 2, seeds: 40, joinInterval: 10 })).toEqual([]);
  });
});

// Churn (two crashes and two joins a second in 100 nodes, for a minute) once left nodes that knew no one:
// a newcomer whose contact crashed before the newcomer's first shuffle had nothing to repair from.
describe('HyParView under churn', () => {
  it('ends connected for every seed at capacity 3', { timeout: SLOW }, () => {
    expect(
      lastingSplitSeeds({
        nodes: 100,
        capacity: 3,
        seeds: 30,
        joinInterval: 10,
        churn: { perSecond: 2, duration: 60_000 },
      }),
    ).toEqual([]);
  });
});
