import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { blake3 } from '@noble/hashes/blake3.js';
import { afterEach, describe, expect, it } from 'vitest';
import { ChunkKind, maxFanout, parseChunk } from '../src/chunk-format.js';
import { Hashing } from '../src/hashing.js';
import { formatReference, type Progress, parseReference, Storage } from '../src/index.js';
import { collect, tempDir } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function openStorage(options: { chunkSize?: number; convergenceSecret?: Uint8Array } = {}) {
  const dir = await tempDir();
  const storage = await Storage.open({ path: join(dir.path, 'db'), gcIntervalMs: 0, ...options });
  cleanups.push(async () => {
    await storage.close();
    await dir.cleanup();
  });
  return { storage, dir: dir.path };
}

describe('content addressing and convergent encryption', () => {
  it.each(['native', 'wasm'] as const)(
    'computes the same BLAKE3 as the reference implementation (%s)',
    async (implementation) => {
      const hashing = await Hashing.create(undefined, implementation);
      // The native build ships for this platform; elsewhere it may fall back to wasm.
      if (implementation === 'wasm' || (process.platform === 'linux' && process.arch === 'x64')) {
        expect(hashing.implementation).toBe(implementation);
      }
      const data = randomBytes(100_000);
      expect(Buffer.from(hashing.chunkId(data))).toEqual(Buffer.from(blake3(data)));
      // Around BLAKE3's 1 KiB chunks, aligned and not (a chunk received is a view into a frame).
      const pool = randomBytes(2 ** 20 + 4096 + 8);
      for (const size of [0, 1, 1023, 1024, 1025, 4095, 4096, 4097, 5120, 65_543, 2 ** 20, 2 ** 20 + 4096]) {
        for (const offset of [0, 1, 3, 4]) {
          const input = pool.subarray(offset, offset + size);
          expect(Buffer.from(hashing.chunkId(input)), `${size} at ${offset}`).toEqual(
            Buffer.from(blake3(input)),
          );
        }
      }
    },
  );

  it('gives the same convergent keys with the native and the wasm BLAKE3', async () => {
    for (const secret of [undefined, Buffer.from('domain-a')]) {
      const native = await Hashing.create(secret, 'native');
      const wasm = await Hashing.create(secret, 'wasm');
      for (const size of [0, 1, 1023, 1024, 70_001]) {
        const plaintext = randomBytes(size);
        for (const kind of [0, 1]) {
          // Twice in a row: the keyed hasher must start again from the key each time.
          for (let i = 0; i < 2; i++) {
            expect(Buffer.from(native.contentKey(kind, plaintext))).toEqual(
              Buffer.from(wasm.contentKey(kind, plaintext)),
            );
          }
        }
      }
      expect(Buffer.from(native.contentKey(0, Buffer.from('x')))).not.toEqual(
        Buffer.from(native.contentKey(1, Buffer.from('x'))),
      );
    }
  });

  it('round-trips a multi-MiB random file byte for byte through a three-level tree', async () => {
    // 4 KiB chunks: fan-out 56, so 5 MiB (1280 leaves) needs two levels of internal chunks.
    const { storage, dir } = await openStorage({ chunkSize: 4096 });
    expect(maxFanout(4096)).toBe(56);
    const data = randomBytes(5 * 1024 * 1024 + 123);
    const input = join(dir, 'input.bin');
    const output = join(dir, 'output.bin');
    await writeFile(input, data);
    const putProgress: Progress[] = [];
    const reference = await storage.putFile(input, { onProgress: (p) => putProgress.push(p) });
    expect(putProgress.at(-1)).toEqual({ bytes: data.length, totalBytes: data.length });
    expect(putProgress[0]?.totalBytes).toBe(data.length);

    const root = parseChunk(storage.store.get(reference.root)!);
    expect(root.kind).toBe(ChunkKind.Internal);
    const firstChild = parseChunk(storage.store.get(root.children[0]!)!);
    expect(firstChild.kind).toBe(ChunkKind.Internal);
    expect(storage.size(reference)).toBe(data.length);

    const getProgress: Progress[] = [];
    await storage.getToFile(reference, output, { onProgress: (p) => getProgress.push(p) });
    expect((await readFile(output)).equals(data)).toBe(true);
    expect(getProgress.at(-1)).toEqual({ bytes: data.length, totalBytes: data.length });
  });

  it('round-trips with the default chunk size, including edge sizes', async () => {
    const { storage } = await openStorage();
    for (const size of [
      0,
      1,
      storage.chunkSize - 1,
      storage.chunkSize,
      storage.chunkSize + 1,
      3 * storage.chunkSize,
    ]) {
      const data = randomBytes(size);
      const reference = await storage.put(data);
      expect((await collect(storage.get(reference))).equals(data)).toBe(true);
      expect(storage.size(reference)).toBe(size);
    }
  });

  it('handles a tree whose leaf count is exactly a power of the fan-out', async () => {
    const { storage } = await openStorage({ chunkSize: 1024 });
    expect(maxFanout(1024)).toBe(14);
    const data = randomBytes(14 * 14 * 1024);
    const reference = await storage.put(data);
    expect((await collect(storage.read(reference))).equals(data)).toBe(true);
  });

  it('deduplicates equal content: same reference, no new bytes stored', async () => {
    const { storage } = await openStorage({ chunkSize: 16 * 1024 });
    const data = randomBytes(1024 * 1024);
    const first = await storage.put(data);
    const used = storage.store.counters().usedBytes;
    const chunks = storage.store.counters().chunks;
    const second = await storage.put(Buffer.from(data));
    expect(formatReference(second)).toBe(formatReference(first));
    expect(storage.store.counters().usedBytes).toBe(used);
    expect(storage.store.counters().chunks).toBe(chunks);
    // Repeated content inside one object dedupes too: 8 equal leaves are stored once.
    const block = randomBytes(16 * 1024);
    const before = storage.store.counters().chunks;
    await storage.put(Buffer.concat(Array.from({ length: 8 }, () => block)));
    expect(storage.store.counters().chunks - before).toBe(2); // one leaf, one root
  });

  it('different convergence secrets give different chunks for the same content', async () => {
    const a = await openStorage({ convergenceSecret: Buffer.from('domain-a') });
    const b = await openStorage({ convergenceSecret: Buffer.from('domain-b') });
    const data = randomBytes(1000);
    const refA = await a.storage.put(data);
    const refB = await b.storage.put(data);
    expect(Buffer.from(refA.root).equals(Buffer.from(refB.root))).toBe(false);
    expect((await collect(b.storage.read(refB))).equals(data)).toBe(true);
  });

  it('stores ciphertext only: the plaintext never reaches the data file', async () => {
    const { storage, dir } = await openStorage();
    const marker = Buffer.from('a very recognisable plaintext marker '.repeat(4));
    const data = Buffer.concat([randomBytes(5000), marker, randomBytes(300_000)]);
    const reference = await storage.put(data);
    await storage.store.flush();
    const file = await readFile(join(dir, 'db', 'data.mdb'));
    expect(file.includes(marker)).toBe(false);
    expect((await collect(storage.read(reference))).equals(data)).toBe(true);
  });

  it('refuses a reference with the wrong key', async () => {
    const { storage } = await openStorage({ chunkSize: 4096 });
    const small = await storage.put(randomBytes(100));
    const large = await storage.put(randomBytes(100_000));
    await expect(collect(storage.read({ root: small.root, key: large.key }))).rejects.toThrow(/key/);
    await expect(collect(storage.read({ root: large.root, key: small.key }))).rejects.toThrow(/key/);
  });

  it('formats and parses references', async () => {
    const { storage } = await openStorage();
    const reference = await storage.put(randomBytes(10));
    const text = formatReference(reference);
    expect(text).toMatch(/^nmref1\.[A-Za-z0-9_-]{86}$/);
    const parsed = parseReference(` ${text}\n`);
    expect(Buffer.from(parsed.root).equals(Buffer.from(reference.root))).toBe(true);
    expect(Buffer.from(parsed.key).equals(Buffer.from(reference.key))).toBe(true);
    expect(() => parseReference('nmref1.abc')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_REFERENCE' }),
    );
    expect(() => parseReference(text.replace('nmref1', 'nmref2'))).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_REFERENCE' }),
    );
  });
});
