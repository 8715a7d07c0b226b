// The fetching side of storage-fetch: starts a serving process (storage-server) on a random object of
// MIB mebibytes, fetches it through the Storage engine (every chunk hashed and checked on arrival,
// stored in lmdb) and prints one JSON line: MB/s, and the CPU seconds each process spent on the
// fetch, all threads and the event-loop thread alone. Usage: storage-client MIB [CONCURRENCY].
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseNodeAdvert } from '@netmachine/core';
import { parseReference } from '@netmachine/storage';
import { sharedFramePool } from '@netmachine/transport/wire';
import { cpuSeconds, minorFaults, startStorageNode } from './storage-node.js';

/** Starts the inspector's CPU profiler; the function returned stops it and writes the profile to `file`. */
async function startProfile(file: string | undefined): Promise<(() => Promise<void>) | undefined> {
  if (file === undefined || file === '') return undefined;
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    await writeFile(file, JSON.stringify(profile));
    session.disconnect();
  };
}

const mib = Number(process.argv[2] ?? 64);
const concurrency = Number(process.argv[3] ?? 8);
// The server runs as this process does: built output with plain node, or sources through tsx.
const server = fileURLToPath(
  new URL(`./storage-server.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url),
);

/**
 * Writes `bytes` random bytes to `file` through one reused 1 MiB buffer: the object is made without
 * leaving 64 MiB of garbage behind, whose collection would otherwise fall in the measured fetch.
 */
async function writeRandomFile(file: string, bytes: number): Promise<void> {
  const handle = await open(file, 'w');
  try {
    const piece = Buffer.allocUnsafe(2 ** 20);
    for (let written = 0; written < bytes; written += piece.length) {
      randomFillSync(piece);
      await handle.write(piece, 0, Math.min(piece.length, bytes - written));
    }
  } finally {
    await handle.close();
  }
}

/** Garbage collections of this process while it runs: how many, and their pauses (ms), by kind. */
function watchGc(): { stop(): { count: number; majorCount: number; pauseMs: number } } {
  let count = 0;
  let majorCount = 0;
  let pauseMs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      count++;
      pauseMs += entry.duration;
      // A mark-compact of the whole heap.
      const { detail } = entry as unknown as { detail?: { kind?: number } };
      if (detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majorCount++;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop() {
      observer.disconnect();
      return { count, majorCount, pauseMs: Number(pauseMs.toFixed(1)) };
    },
  };
}

const dir = await mkdtemp(join(tmpdir(), 'nm-storage-fetch-'));
try {
  const input = join(dir, 'input.bin');
  await writeRandomFile(input, mib * 2 ** 20);
  await mkdir(join(dir, 'server'));
  // With this process's node flags (BENCH_WORKER_FLAGS such as `--cpu-prof` among them).
  const child = spawn(process.execPath, [...process.execArgv, server, join(dir, 'server'), input], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = await new Promise<{ advert: string; reference: string }>((done, fail) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) done(JSON.parse(out.slice(0, out.indexOf('\n'))));
    });
    child.once('exit', (code) => fail(new Error(`storage server exited ${code}`)));
  });
  const node = await startStorageNode(join(dir, 'client'));
  await node.addPeer(ready.advert);
  const before = await Promise.all([
    cpuSeconds(process.pid),
    cpuSeconds(process.pid, process.pid),
    cpuSeconds(child.pid),
    cpuSeconds(child.pid, child.pid),
  ]);
  const faultsBefore = await Promise.all([minorFaults(process.pid), minorFaults(child.pid)]);
  // STORAGE_FETCH_PROFILE=FILE: a CPU profile of this process's event loop over the fetch alone.
  const profiler = await startProfile(process.env.STORAGE_FETCH_PROFILE);
  const gc = watchGc();
  const start = performance.now();
  const result = await node.services.storage.engine.fetch(
    node.router.client('bench'),
    parseReference(ready.reference),
    [parseNodeAdvert(ready.advert).id],
    { concurrency },
  );
  const seconds = (performance.now() - start) / 1000;
  // Read after a turn of the event loop, so the last collections' entries have been delivered.
  await new Promise((resolve) => setImmediate(resolve));
  const collections = gc.stop();
  await profiler?.();
  const after = await Promise.all([
    cpuSeconds(process.pid),
    cpuSeconds(process.pid, process.pid),
    cpuSeconds(child.pid),
    cpuSeconds(child.pid, child.pid),
  ]);
  const faultsAfter = await Promise.all([minorFaults(process.pid), minorFaults(child.pid)]);
  const faults = (i: number) => {
    const [b, a] = [faultsBefore[i], faultsAfter[i]];
    return b === undefined || a === undefined ? undefined : a - b;
  };
  const used = (i: number) => {
    const [b, a] = [before[i], after[i]];
    return b === undefined || a === undefined ? undefined : Number((a - b).toFixed(2));
  };
  console.log(
    JSON.stringify({
      scenario: 'storage-fetch',
      bytes: result.totalBytes,
      chunks: result.chunks,
      concurrency,
      seconds: Number(seconds.toFixed(3)),
      // Where the fetch waited for the disk: at its bound of uncommitted chunks, and after the last
      // chunk arrived (the last commits and the fsync).
      writeWaits: result.writeWaits,
      writeWaitMs: Number(result.writeWaitMs.toFixed(1)),
      flushMs: Number(result.flushMs.toFixed(1)),
      mbPerSecond: Number((result.totalBytes / 1e6 / seconds).toFixed(1)),
      clientCpuSeconds: used(0),
      clientEventLoopCpuSeconds: used(1),
      serverCpuSeconds: used(2),
      serverEventLoopCpuSeconds: used(3),
      // Minor page faults during the fetch (first touches of fresh memory: 256 per MiB), per process.
      clientPageFaults: faults(0),
      serverPageFaults: faults(1),
      // This (the fetching) process's garbage collections during the fetch.
      clientGc: collections,
      // Large frames read into reused buffers (reused) or new ones (allocated).
      framePool: sharedFramePool.stats(),
    }),
  );
  await node.stop();
  // The server closes its store before its files are removed.
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    await exited;
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
