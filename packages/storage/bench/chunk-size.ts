// Measures local put and get throughput of the storage layer for several chunk sizes.
// Run from the repository root:
//   node --conditions=source --import tsx packages/storage/bench/chunk-size.ts [MiB] [rounds]
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Storage } from '../src/index.js';

const mib = Number(process.argv[2] ?? 64);
const rounds = Number(process.argv[3] ?? 3);
const sizes = [64 * 1024, 256 * 1024, 1024 * 1024];
const data = randomBytes(mib * 1024 * 1024);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function* pieces(bytes: Buffer, piece = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += piece) yield bytes.subarray(offset, offset + piece);
}

console.log(`object: ${mib} MiB random, ${rounds} rounds, median MB/s`);
console.log('chunk size | put MB/s | get MB/s | chunks | stored overhead');
for (const chunkSize of sizes) {
  const puts: number[] = [];
  const gets: number[] = [];
  let chunks = 0;
  let overhead = 0;
  for (let round = 0; round < rounds; round++) {
    const dir = await mkdtemp(join(tmpdir(), 'nm-chunk-bench-'));
    const storage = await Storage.open({ path: join(dir, 'db'), chunkSize, gcIntervalMs: 0 });
    try {
      let start = performance.now();
      const reference = await storage.put(pieces(data));
      puts.push(data.length / 1e6 / ((performance.now() - start) / 1000));
      start = performance.now();
      let read = 0;
      for await (const piece of storage.read(reference)) read += piece.length;
      gets.push(read / 1e6 / ((performance.now() - start) / 1000));
      chunks = storage.store.stats.chunks;
      overhead = storage.store.stats.usedBytes / data.length - 1;
    } finally {
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    }
  }
  console.log(
    `${String(chunkSize / 1024).padStart(6)} KiB | ${median(puts).toFixed(0).padStart(8)} | ${median(gets)
      .toFixed(0)
      .padStart(8)} | ${String(chunks).padStart(6)} | ${(overhead * 100).toFixed(3)}%`,
  );
}
