import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { HashPool, HashPoolClosedError } from '../src/hash-pool.js';
import { Hashing } from '../src/hashing.js';

const pools: HashPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});

function newPool(threads: number): HashPool {
  const pool = new HashPool(threads);
  pools.push(pool);
  return pool;
}

describe('HashPool', () => {
  it('gives the same chunk ids as hashing in line, for many chunks at once, aligned or not', async () => {
    const hashing = await Hashing.create();
    const pool = newPool(2);
    const source = randomBytes(2 ** 20 + 64);
    // Views at odd offsets (as chunks sliced out of frames are), of varied sizes; buffers are reused.
    const inputs = Array.from({ length: 40 }, (_, i) =>
      source.subarray(i % 5, (i % 5) + 64 * 1024 + ((i * 7919) % (2 ** 20 - 64 * 1024))),
    );
    const ids = await Promise.all(inputs.map((input) => pool.chunkId(input)));
    ids.forEach((id, i) => {
      expect(Buffer.from(id)).toEqual(Buffer.from(hashing.chunkId(inputs[i]!)));
    });
    // The caller's bytes are copied, never moved: they are intact afterwards.
    expect(source.length).toBe(2 ** 20 + 64);
    expect(inputs[3]!.length).toBeGreaterThan(0);
  });

  it('rejects jobs still out, and new ones, once closed', async () => {
    const pool = newPool(1);
    const pending = expect(pool.chunkId(randomBytes(2 ** 20))).rejects.toBeInstanceOf(HashPoolClosedError);
    await pool.close();
    await pending;
    await expect(pool.chunkId(randomBytes(1024))).rejects.toBeInstanceOf(HashPoolClosedError);
    await pool.close(); // idempotent
  });
});
