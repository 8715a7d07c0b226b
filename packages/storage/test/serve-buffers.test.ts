import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BlockStore } from '../src/index.js';
import { ServeBuffers } from '../src/serve-buffers.js';
import { collect, tempDir } from './helpers.js';
import { startTlsStorageNode } from './tls-node.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe('ServeBuffers', () => {
  it('hands a buffer out again only once it is given back, and keeps a bounded number', () => {
    const pool = new ServeBuffers(2, 10 * 2 ** 20);
    const a = pool.take(2 ** 20);
    const b = pool.take(2 ** 20);
    expect(b).not.toBe(a); // a is still held
    expect(a.length).toBeGreaterThanOrEqual(2 ** 20);
    pool.give(a);
    expect(pool.take(1000)).toBe(a); // the most recently freed one that fits
    pool.give(a);
    pool.give(b);
    pool.give(Buffer.allocUnsafeSlow(2 ** 20)); // past maxBuffers: left to the GC
    const taken = [pool.take(2 ** 20), pool.take(2 ** 20), pool.take(2 ** 20)];
    expect(new Set(taken).size).toBe(3);
    expect(taken.filter((t) => t === a || t === b)).toHaveLength(2);
    expect(pool.stats()).toMatchObject({ reused: 3, allocated: 3 });
  });

  it('makes a new buffer when no free one is large enough', () => {
    const pool = new ServeBuffers();
    const small = pool.take(64 * 1024);
    pool.give(small);
    const large = pool.take(128 * 1024 + 1);
    expect(large).not.toBe(small);
    expect(large.length).toBeGreaterThan(128 * 1024);
  });
});

describe('BlockStore.getUnverifiedInto', () => {
  it('copies an lmdb chunk out of lmdb’s reused read buffer into the buffer it is given', async () => {
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    const store = await BlockStore.open({ path: join(dir.path, 'blocks'), gcIntervalMs: 0 });
    cleanups.push(() => store.close());
    const one = randomBytes(300 * 1024);
    const two = randomBytes(200 * 1024);
    const ids = [store.hashing.chunkId(one), store.hashing.chunkId(two)];
    await store.put([
      { id: ids[0]!, bytes: one },
      { id: ids[1]!, bytes: two },
    ]);
    const target = Buffer.alloc(400 * 1024);
    const first = store.getUnverifiedInto(ids[0]!, (length) => {
      expect(length).toBe(one.length);
      return target;
    });
    expect(first!.buffer).toBe(target.buffer);
    // Reading another chunk reuses lmdb's buffer; the copy is untouched.
    const second = store.getUnverifiedInto(ids[1]!, () => Buffer.alloc(two.length));
    expect(Buffer.from(second!).equals(two)).toBe(true);
    expect(Buffer.from(first!).equals(one)).toBe(true);
    expect(store.getUnverifiedInto(randomBytes(32), () => target)).toBeUndefined();
  });

  it('returns an in-memory store’s own bytes without taking a buffer', async () => {
    const store = await BlockStore.open({ gcIntervalMs: 0 });
    cleanups.push(() => store.close());
    const bytes = randomBytes(100 * 1024);
    const id = store.hashing.chunkId(bytes);
    await store.put([{ id, bytes }]);
    const read = store.getUnverifiedInto(id, () => {
      throw new Error('not expected');
    });
    expect(Buffer.from(read!).equals(bytes)).toBe(true);
  });
});

describe('serving from reused buffers over TLS', () => {
  it('hands each served chunk’s buffer back once its reply is encoded; every chunk arrives intact', {
    timeout: 120_000,
  }, async () => {
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    const a = await startTlsStorageNode(join(dir.path, 'a'));
    cleanups.push(() => a.stop());
    const b = await startTlsStorageNode(join(dir.path, 'b'));
    cleanups.push(() => b.stop());
    const data = randomBytes(12 * 2 ** 20);
    const reference = await a.storage.put(data);
    await b.addPeer(a.advertText);
    const result = await b.engine.fetch(b.router.client('cli'), reference, [a.id], { concurrency: 4 });
    expect(result).toMatchObject({ corrupt: 0, totalBytes: data.length });
    expect(result.fetched).toBe(result.chunks);
    const served = a.engine.counters();
    expect(served.chunksServed).toBe(result.chunks);
    // 13 chunks through at most 4 requests in flight: most buffers were handed back and used again.
    expect(served.serveBuffersReused).toBeGreaterThan(0);
    expect(served.serveBuffersReused + served.serveBuffersAllocated).toBe(result.chunks);
    expect((await collect(b.storage.get(reference))).equals(data)).toBe(true);
  });
});
