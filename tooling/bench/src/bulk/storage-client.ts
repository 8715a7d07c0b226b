// The fetching side of storage-fetch: starts a serving process (storage-server) on a random object of
// MIB mebibytes, fetches it through the Storage engine (every chunk hashed and checked on arrival,
// stored in lmdb) and prints one JSON line: MB/s, and the CPU seconds each process spent on the
// fetch, all threads and the event-loop thread alone. Usage: storage-client MIB [CONCURRENCY].
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseNodeAdvert } from '@netmachine/core';
import { parseReference } from '@netmachine/storage';
import { sharedFramePool } from '@netmachine/transport/wire';
import { cpuSeconds, startStorageNode } from './storage-node.js';

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

const dir = await mkdtemp(join(tmpdir(), 'nm-storage-fetch-'));
try {
  const input = join(dir, 'input.bin');
  await writeFile(input, randomBytes(mib * 2 ** 20));
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
  // STORAGE_FETCH_PROFILE=FILE: a CPU profile of this process's event loop over the fetch alone.
  const profiler = await startProfile(process.env.STORAGE_FETCH_PROFILE);
  const start = performance.now();
  const result = await node.services.storage.engine.fetch(
    node.router.client('bench'),
    parseReference(ready.reference),
    [parseNodeAdvert(ready.advert).id],
    { concurrency },
  );
  const seconds = (performance.now() - start) / 1000;
  await profiler?.();
  const after = await Promise.all([
    cpuSeconds(process.pid),
    cpuSeconds(process.pid, process.pid),
    cpuSeconds(child.pid),
    cpuSeconds(child.pid, child.pid),
  ]);
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
      mbPerSecond: Number((result.totalBytes / 1e6 / seconds).toFixed(1)),
      clientCpuSeconds: used(0),
      clientEventLoopCpuSeconds: used(1),
      serverCpuSeconds: used(2),
      serverEventLoopCpuSeconds: used(3),
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
