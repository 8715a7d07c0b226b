import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChunkKind, parseChunk } from '../src/chunk-format.js';
import { CorruptChunkError, QuotaExceededError } from '../src/errors.js';
import { Hashing } from '../src/hashing.js';
import { BlockStore, type ChunkToStore, NEVER_EXPIRES, Storage, type StorageEvent } from '../src/index.js';
import { collect, tempDir } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function dir(): Promise<string> {
  const d = await tempDir();
  cleanups.push(d.cleanup);
  return join(d.path, 'db');
}

async function chunk(hashing: Hashing, size: number): Promise<ChunkToStore> {
  const bytes = randomBytes(size);
  return { id: hashing.chunkId(bytes), bytes };
}

describe('BlockStore', () => {
  it('detects a chunk corrupted on disk, never serves it, counts and reports it', async () => {
    const path = await dir();
    let storage = await Storage.open({ path, gcIntervalMs: 0, chunkSize: 64 * 1024 });
    const data = randomBytes(512 * 1024);
    const reference = await storage.put(data);
    const root = parseChunk(storage.store.get(reference.root)!);
    expect(root.kind).toBe(ChunkKind.Internal);
    const victim = root.children[3]!;
    const victimBytes = Buffer.from(storage.store.get(victim)!);
    await storage.close();

    // Flip one byte of that chunk in lmdb's data file, as a failing disk would.
    const file = join(path, 'data.mdb');
    const contents = await readFile(file);
    const at = contents.indexOf(victimBytes.subarray(1000, 1064));
    expect(at).toBeGreaterThan(0);
    contents[at + 10]! ^= 0x01;
    await writeFile(file, contents);

    storage = await Storage.open({ path, gcIntervalMs: 0 });
    cleanups.unshift(() => storage.close());
    const events: StorageEvent[] = [];
    storage.store.events.on('*', (e) => events.push(e));
    expect(() => storage.store.get(victim)).toThrow(CorruptChunkError);
    expect(storage.store.counters().corruptChunks).toBe(1);
    expect(events).toEqual([expect.objectContaining({ type: 'chunk:corrupt', source: 'disk' })]);
    // Removed, so it can be fetched again; reading the object now fails instead of returning bad data.
    await storage.store.flush();
    expect(storage.store.has(victim)).toBe(false);
    await expect(collect(storage.read(reference))).rejects.toMatchObject({ code: 'ERR_CHUNK_NOT_FOUND' });
    // Every other chunk still reads fine.
    for (const [i, id] of root.children.entries()) if (i !== 3) expect(storage.store.get(id)).toBeDefined();
  });

  it('closes only after every write in flight has committed, and refuses writes from then on', async () => {
    const path = await dir();
    const store = await BlockStore.open({ path, gcIntervalMs: 0 });
    const chunks = await Promise.all(Array.from({ length: 8 }, () => chunk(store.hashing, 1024 * 1024)));
    const order: string[] = [];
    // Eight 1 MiB writes, none awaited, then close at once: each lands before close resolves.
    const puts = chunks.map((c, i) => store.put([c]).then(() => order.push(`put ${i}`)));
    await store.close();
    order.push('closed');
    await Promise.all(puts);
    expect(order.at(-1)).toBe('closed');
    expect(order).toHaveLength(9);
    await expect(store.put([chunks[0]!])).rejects.toMatchObject({ name: 'NotStartedError' });
    const reopened = await BlockStore.open({ path, gcIntervalMs: 0 });
    try {
      for (const c of chunks) expect(Buffer.from(reopened.get(c.id)!).equals(c.bytes)).toBe(true);
    } finally {
      await reopened.close();
    }
  });

  it('enforces the quota with a typed error, storing nothing of a refused batch', async () => {
    const hashing = await Hashing.create();
    const store = await BlockStore.open({ path: await dir(), quotaBytes: 100_000, gcIntervalMs: 0, hashing });
    cleanups.unshift(() => store.close());
    const events: StorageEvent[] = [];
    store.events.on('*', (e) => events.push(e));
    const a = await chunk(hashing, 60_000);
    expect(await store.put([a])).toEqual(['stored']);
    // Re-putting held content needs no room.
    expect(await store.put([a])).toEqual(['exists']);
    const b = await chunk(hashing, 30_000);
    const c = await chunk(hashing, 30_000);
    const refused = store.put([b, c]);
    await expect(refused).rejects.toBeInstanceOf(QuotaExceededError);
    await expect(refused).rejects.toMatchObject({
      code: 'ERR_QUOTA_EXCEEDED',
      needed: 60_000,
      quota: 100_000,
    });
    expect(store.has(b.id)).toBe(false);
    expect(store.counters()).toMatchObject({ chunks: 1, usedBytes: 60_000, quotaRefusals: 1 });
    expect(events).toEqual([expect.objectContaining({ type: 'quota:exceeded', needed: 60_000 })]);
    expect(await store.put([b])).toEqual(['stored']);
  });

  it('counts writes still in flight: the same chunk twice at once is stored once, and the quota sees both', async () => {
    const hashing = await Hashing.create();
    const path = await dir();
    const store = await BlockStore.open({ path, quotaBytes: 3 * 2 ** 20, gcIntervalMs: 0, hashing });
    const [a, b, c] = await Promise.all([1, 1, 1.5].map((mib) => chunk(hashing, mib * 2 ** 20)));
    // None awaited before the next is issued: each sees the ones before it, not yet committed.
    const puts = [store.put([a!]), store.put([a!]), store.put([b!, a!]), store.put([c!])];
    const settled = await Promise.allSettled(puts);
    expect(settled.slice(0, 3).map((s) => (s.status === 'fulfilled' ? s.value : s.reason))).toEqual([
      ['stored'],
      ['exists'],
      ['stored', 'exists'],
    ]);
    // 2 MiB are held or on their way, so 1.5 MiB more does not fit in 3 MiB.
    expect(settled[3]).toMatchObject({ status: 'rejected', reason: { name: 'QuotaExceededError' } });
    expect(store.counters()).toMatchObject({ chunks: 2, usedBytes: 2 * 2 ** 20, quotaRefusals: 1 });
    await store.close();
    const reopened = await BlockStore.open({ path, gcIntervalMs: 0, hashing });
    try {
      expect(reopened.counters()).toMatchObject({ chunks: 2, usedBytes: 2 * 2 ** 20 });
      expect(Buffer.from(reopened.get(a!.id)!).equals(a!.bytes)).toBe(true);
      expect(Buffer.from(reopened.get(b!.id)!).equals(b!.bytes)).toBe(true);
      expect(reopened.has(c!.id)).toBe(false);
    } finally {
      await reopened.close();
    }
  });

  it('hands a queued write its bytes back (copied) only once they are committed', async () => {
    const path = await dir();
    const store = await BlockStore.open({ path, gcIntervalMs: 0 });
    const chunks = await Promise.all(Array.from({ length: 4 }, () => chunk(store.hashing, 1024 * 1024)));
    const originals = chunks.map((c) => Buffer.from(c.bytes));
    const heldWhenCopied: boolean[] = [];
    // The caller reuses the bytes at once, as the fetch does with its frame buffers.
    const reuse = (c: ChunkToStore) => () => {
      heldWhenCopied.push(store.has(c.id));
      (c.bytes as Buffer).fill(0);
    };
    await Promise.all(chunks.map((c) => store.put([c], NEVER_EXPIRES, reuse(c))));
    expect(heldWhenCopied).toEqual([true, true, true, true]);
    await store.close();
    const reopened = await BlockStore.open({ path, gcIntervalMs: 0 });
    try {
      for (const [i, c] of chunks.entries())
        expect(Buffer.from(reopened.get(c.id)!).equals(originals[i]!)).toBe(true);
    } finally {
      await reopened.close();
    }
  });

  it('refuses an object put that does not fit', async () => {
    const storage = await Storage.open({ path: await dir(), quotaBytes: 1024 * 1024, gcIntervalMs: 0 });
    cleanups.unshift(() => storage.close());
    await expect(storage.put(randomBytes(2 * 1024 * 1024))).rejects.toBeInstanceOf(QuotaExceededError);
  });

  it.each(['lmdb', 'memory'] as const)(
    'expires chunks and collects them, keeping the latest expiry any writer asked for (%s)',
    async (backend) => {
      const hashing = await Hashing.create();
      const path = backend === 'lmdb' ? await dir() : undefined;
      const store = await BlockStore.open({ path, gcIntervalMs: 0, hashing });
      cleanups.unshift(() => store.close());
      const now = Date.now();
      const short = await chunk(hashing, 1000);
      const long = await chunk(hashing, 2000);
      const forever = await chunk(hashing, 3000);
      await store.put([short], now + 1_000);
      await store.put([long], now + 1_000);
      await store.put([long], now + 60_000); // a second writer wants it longer
      await store.put([forever]);
      expect(store.expiryOf(long.id)).toBe(now + 60_000);
      expect(store.expiryOf(forever.id)).toBe(NEVER_EXPIRES);
      // Expired chunks read as absent before they are collected.
      expect(store.get(short.id, now + 2_000)).toBeUndefined();
      expect(store.has(short.id, now + 2_000)).toBe(false);

      const events: StorageEvent[] = [];
      store.events.on('*', (e) => events.push(e));
      expect(await store.collectGarbage(now + 2_000)).toBe(1);
      expect(events).toEqual([{ type: 'chunk:collected', chunks: 1, bytes: 1000 }]);
      expect(store.expiryOf(short.id)).toBeUndefined();
      expect(store.get(long.id)).toBeDefined();
      expect(store.counters()).toMatchObject({ chunks: 2, usedBytes: 5000, collectedChunks: 1 });

      expect(await store.collectGarbage(now + 120_000)).toBe(1);
      expect(store.get(forever.id)).toBeDefined();
      expect(store.counters()).toMatchObject({ chunks: 1, usedBytes: 3000 });
    },
  );

  it('collects a whole expired object, and recounts usage on reopen', async () => {
    const path = await dir();
    const storage = await Storage.open({ path, gcIntervalMs: 0, chunkSize: 16 * 1024 });
    const now = Date.now();
    const keep = await storage.put(randomBytes(100_000));
    const drop = await storage.put(randomBytes(200_000), { expiry: now + 5_000 });
    const before = storage.store.counters().chunks;
    const collected = await storage.store.collectGarbage(now + 10_000);
    expect(collected).toBe(before - 8); // 7 leaves + 1 root of `keep` remain
    await expect(collect(storage.read(drop))).rejects.toMatchObject({ code: 'ERR_CHUNK_NOT_FOUND' });
    expect((await collect(storage.read(keep))).length).toBe(100_000);
    const stats = storage.store.counters();
    await storage.close();
    const reopened = await BlockStore.open({ path, gcIntervalMs: 0 });
    cleanups.unshift(() => reopened.close());
    expect(reopened.counters()).toMatchObject({ chunks: stats.chunks, usedBytes: stats.usedBytes });
  });

  it('collects in the background on its timer', async () => {
    const hashing = await Hashing.create();
    const store = await BlockStore.open({ path: await dir(), gcIntervalMs: 20, hashing });
    cleanups.unshift(() => store.close());
    const collected = new Promise<StorageEvent>((resolve) => store.events.on('*', resolve));
    const c = await chunk(hashing, 100);
    await store.put([c], Date.now() - 1);
    expect(await collected).toEqual({ type: 'chunk:collected', chunks: 1, bytes: 100 });
    expect(store.expiryOf(c.id)).toBeUndefined();
  });

  it('gives a finished put its expiry, and lets the chunks of an aborted put expire soon', async () => {
    const storage = await Storage.open({ path: await dir(), gcIntervalMs: 0, chunkSize: 16 * 1024 });
    cleanups.unshift(() => storage.close());
    const now = Date.now();
    const done = await storage.put(randomBytes(200_000), { pendingTtlMs: 60_000 });
    expect(storage.store.expiryOf(done.root)).toBe(NEVER_EXPIRES);
    expect(storage.store.expiryOf(parseChunk(storage.store.get(done.root)!).children[0]!)).toBe(
      NEVER_EXPIRES,
    );

    const controller = new AbortController();
    async function* endless(): AsyncGenerator<Uint8Array> {
      for (let i = 0; ; i++) {
        if (i === 20) controller.abort();
        yield randomBytes(16 * 1024);
      }
    }
    const before = storage.store.counters().chunks;
    await expect(
      storage.put(endless(), { signal: controller.signal, pendingTtlMs: 60_000 }),
    ).rejects.toMatchObject({
      code: 'ERR_ABORTED',
    });
    const left = storage.store.counters().chunks - before;
    expect(left).toBeGreaterThan(0);
    // Nothing of the aborted put outlives its pending time-to-live; the finished object stays.
    expect(await storage.store.collectGarbage(now + 120_000)).toBe(left);
    expect((await collect(storage.read(done))).length).toBe(200_000);
  });
});
