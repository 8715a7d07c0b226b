import { describe, expect, it } from 'vitest';
import { runOverlayScenario } from '../src/index.js';

// Nine nodes joining one contact at once (or nearly) with three neighbours each, as in a small domain:
// HyParView must end with one component whatever the order of joins. Before an under-full view was
// refilled periodically, and before a full node took one neighbour beyond capacity (and a repeatedly
// rejected node asked with high priority), about one run in a hundred stayed split for good: a clique
// of four full nodes that let no one in, or a group whose passive views held only full nodes.

function splitSeeds(joinInterval: number, seeds: number): number[] {
  const split: number[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const result = runOverlayScenario({
      nodes: 9,
      seed,
      joinInterval,
      settle: 30_000,
      crashFractions: [0],
      periodsAfterCrash: 0,
      hyparview: { activeViewCapacity: 3 },
    });
    if ((result.runs[0]?.joined.components ?? 0) !== 1) split.push(seed);
  }
  return split;
}

describe('HyParView, nine nodes joining at once', () => {
  it('ends connected for every seed, joins all at once', () => {
    expect(splitSeeds(0, 2000)).toEqual([]);
  });

  it('ends connected for every seed, joins 10 and 200 ms apart', () => {
    expect(splitSeeds(10, 1000)).toEqual([]);
    expect(splitSeeds(200, 1000)).toEqual([]);
  });
});
