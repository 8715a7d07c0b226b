import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { memoryIdentityStore } from '../src/index.js';
import { idOf, newKey, nodeAdvert } from './helpers.js';

describe('advert version ordering', () => {
  test.prop([fc.array(fc.nat({ max: 20 }), { minLength: 1, maxLength: 12 }), fc.boolean()], { numRuns: 60 })(
    'stores an advert exactly when it is newer than every one before it, sequential or concurrent',
    async (versions, concurrent) => {
      await using store = await memoryIdentityStore();
      const key = newKey();
      const adverts = versions.map((v) => nodeAdvert(key, v));
      const results = concurrent
        ? await Promise.all(adverts.map((a) => store.offerNodeAdvert(a)))
        : await adverts.reduce<Promise<boolean[]>>(
            async (acc, a) => [...(await acc), await store.offerNodeAdvert(a)],
            Promise.resolve([]),
          );
      let highest = -1;
      const expected = versions.map((v) => {
        const newer = v > highest;
        highest = Math.max(highest, v);
        return newer;
      });
      expect(results).toEqual(expected);
      expect(store.node(idOf(key))?.advert?.version).toBe(Math.max(...versions));
      expect(store.counters().accepted.node + store.counters().rejected.stale).toBe(versions.length);
    },
  );
});
