// Measures, for several chunk sizes, local put and get throughput of the storage layer and the
// throughput of fetching an object between two routers in one process (through the link wire
// encoding, without sockets), every chunk verified on arrival.
// Run from the repository root:
//   node --conditions=@netmachine/source --import tsx packages/storage/bench/chunk-size.ts [MiB] [rounds]
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EngineMessage, KeyPair, pack, unpack } from '@netmachine/core';
import { Router } from '@netmachine/router';
import { decodeWireMessage, messageFromWire, messageToWire } from '@netmachine/transport/wire';
import { fetchObject, Storage, StorageEngine } from '../src/index.js';

const mib = Number(process.argv[2] ?? 64);
const rounds = Number(process.argv[3] ?? 3);
const sizes = [64 * 1024, 256 * 1024, 1024 * 1024];
const data = randomBytes(mib * 1024 * 1024);

/** Wall-clock and CPU (all threads of this process) throughput of one timed step. */
async function timed(bytes: number, step: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  await step();
  const used = process.cpuUsage(cpu);
  return {
    wall: bytes / 1e6 / ((performance.now() - start) / 1000),
    cpu: bytes / 1e6 / ((used.user + used.system) / 1e6),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function* pieces(bytes: Buffer, piece = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += piece) yield bytes.subarray(offset, offset + piece);
}

function link(a: Router, b: Router): void {
  for (const [from, to] of [
    [a, b],
    [b, a],
  ] as const) {
    from.setNodeSender({
      canReach: (node) => node === to.node,
      send: (message: EngineMessage) => {
        const bytes = pack(messageToWire(message));
        setImmediate(() => to.deliver(messageFromWire(decodeWireMessage(unpack(bytes)), from.node, to.node)));
      },
    });
  }
}

async function node(dir: string, name: string, chunkSize: number) {
  const keyPair = KeyPair.generate();
  const storage = await Storage.open({ path: join(dir, name), chunkSize, gcIntervalMs: 0 });
  const router = new Router({ node: keyPair.id });
  router.spawn('storage', new StorageEngine({ storage, keyPair }).handler);
  return { storage, router };
}

console.log(`object: ${mib} MiB random, ${rounds} rounds; median MB/s by wall clock, and per CPU-second`);
console.log('chunk size | put wall/cpu | get wall/cpu | fetch wall/cpu | chunks | stored overhead');
type Rate = { wall: number; cpu: number };
const show = (rates: Rate[]) =>
  `${median(rates.map((r) => r.wall)).toFixed(0)}/${median(rates.map((r) => r.cpu)).toFixed(0)}`.padStart(
    Math.max(12, 0),
  );
for (const chunkSize of sizes) {
  const puts: Rate[] = [];
  const gets: Rate[] = [];
  const fetches: Rate[] = [];
  let chunks = 0;
  let overhead = 0;
  for (let round = 0; round < rounds; round++) {
    const dir = await mkdtemp(join(tmpdir(), 'nm-chunk-bench-'));
    const storage = await Storage.open({ path: join(dir, 'db'), chunkSize, gcIntervalMs: 0 });
    try {
      let reference = await storage.put(new Uint8Array(0));
      puts.push(
        await timed(data.length, async () => {
          reference = await storage.put(pieces(data));
        }),
      );
      gets.push(
        await timed(data.length, async () => {
          for await (const _ of storage.read(reference));
        }),
      );
      chunks = storage.store.counters().chunks - 1;
      overhead = storage.store.counters().usedBytes / data.length - 1;

      const a = await node(dir, 'a', chunkSize);
      const b = await node(dir, 'b', chunkSize);
      link(a.router, b.router);
      await b.storage.put(pieces(data));
      fetches.push(
        await timed(data.length, () =>
          fetchObject(a.router.client('bench'), reference, [b.router.node], {
            storage: a.storage,
            concurrency: 8,
          }),
        ),
      );
      for (const n of [a, b]) {
        await n.router.stop();
        await n.storage.close();
      }
    } finally {
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    }
  }
  console.log(
    [
      `${String(chunkSize / 1024).padStart(6)} KiB`,
      show(puts),
      show(gets),
      show(fetches),
      String(chunks).padStart(6),
      `${(overhead * 100).toFixed(3)}%`,
    ].join(' | '),
  );
}
