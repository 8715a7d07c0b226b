import { describe, expect, it } from 'vitest';
import { runOverlayStartup } from '../src/scenarios/overlay-startup.js';

// Nine nodes join one contact about 110 ms apart (capacity 3, as in the pub/sub bench's domain); a second
// later the contact and the first three joiners are cut off from the other five for 1.5 s. Each side
// repairs from its own side and ends full: two components, as the bench saw. With the normal 10 s shuffle
// period the labels needed tens of seconds to find it; with the short schedule after start and after a
// lost neighbour, seconds. The simulator is deterministic, so the counts are the same on every machine.

const SLOW = 120_000;

function splitCounts(startup: boolean): number[] {
  const result = runOverlayStartup({
    nodes: 9,
    capacity: 3,
    joinInterval: 110,
    latency: { min: 1, max: 100 },
    cut: { after: 1_000, duration: 1_500, groupSize: 4 },
    checkpoints: [5_000, 10_000, 30_000],
    seeds: 100,
    ...(startup ? {} : { hyparview: { startupShuffleIntervals: [] } }),
  });
  expect(result.activeViewMax).toBeLessThanOrEqual(4);
  return result.split.map((point) => point.runs);
}

describe('overlay start-up splits (simulated)', () => {
  it('joins a split of full nodes formed right after the joins within seconds', { timeout: SLOW }, () => {
    const [before5, before10] = splitCounts(false);
    const [after5, after10, after30] = splitCounts(true);
    // Without the short schedule a third of the runs are still split 10 s after the cut ends.
    expect(before10).toBeGreaterThan(20);
    expect(after5).toBeLessThan((before5 as number) / 3);
    expect(after10).toBeLessThan((before10 as number) / 5);
    expect(after30).toBe(0);
  });
});
