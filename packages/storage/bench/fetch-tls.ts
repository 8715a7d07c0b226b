// Fetch throughput between two processes over TLS: a child process puts a random object and serves
// it; this process fetches it (every chunk verified on arrival, stored in lmdb) and reports MB/s.
// Run from the repository root:
//   node --conditions=@netmachine/source --import tsx packages/storage/bench/fetch-tls.ts [MiB] [concurrency] [hashThreads]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseNodeAdvert } from '@netmachine/core';
import { parseReference } from '../src/index.js';
import { startTlsStorageNode } from '../test/tls-node.js';

const mib = Number(process.argv[2] ?? 64);
const concurrency = Number(process.argv[3] ?? 8);
// Threads that check chunk hashes off the event loop (the fetch's default when not given).
const hashThreads = process.argv[4] === undefined ? undefined : Number(process.argv[4]);
const workerFlags = (process.env.BENCH_WORKER_FLAGS ?? '').split(' ').filter((flag) => flag !== '');
const server = resolve(import.meta.dirname, '../test/fixtures/serve-file.ts');
const dir = await mkdtemp(join(tmpdir(), 'nm-fetch-bench-'));
try {
  const input = join(dir, 'input.bin');
  await writeFile(input, randomBytes(mib * 1024 * 1024));
  await mkdir(join(dir, 'server'));
  const child = spawn(
    process.execPath,
    // BENCH_WORKER_FLAGS (e.g. `--cpu-prof`) apply to the serving process too, to profile it.
    [
      ...workerFlags,
      '--conditions=@netmachine/source',
      '--import',
      'tsx',
      server,
      join(dir, 'server'),
      input,
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const ready = await new Promise<{ advert: string; reference: string }>((done, fail) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) done(JSON.parse(out.slice(0, out.indexOf('\n'))));
    });
    child.once('exit', (code) => fail(new Error(`server exited ${code}`)));
  });
  const node = await startTlsStorageNode(join(dir, 'client'));
  await node.addPeer(ready.advert);
  const serverCpu = await processCpuSeconds(child.pid);
  const serverMain = await processCpuSeconds(child.pid, child.pid);
  const clientMain = await processCpuSeconds(process.pid, process.pid);
  const cpu = process.cpuUsage();
  const start = performance.now();
  const result = await node.engine.fetch(
    node.router.client('bench'),
    parseReference(ready.reference),
    [parseNodeAdvert(ready.advert).id],
    { concurrency, hashThreads },
  );
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  const serverCpuAfter = await processCpuSeconds(child.pid);
  const serverMainAfter = await processCpuSeconds(child.pid, child.pid);
  const clientMainAfter = await processCpuSeconds(process.pid, process.pid);
  const difference = (before: number | undefined, after: number | undefined) =>
    before === undefined || after === undefined ? undefined : Number((after - before).toFixed(2));
  console.log(
    JSON.stringify({
      scenario: 'storage-fetch',
      bytes: result.totalBytes,
      chunks: result.chunks,
      concurrency,
      seconds: Number(seconds.toFixed(3)),
      mbPerSecond: Number((result.totalBytes / 1e6 / seconds).toFixed(1)),
      clientCpuSeconds: Number(((used.user + used.system) / 1e6).toFixed(3)),
      serverCpuSeconds: difference(serverCpu, serverCpuAfter),
      // The event-loop threads alone (the bound on a machine with a core for each process).
      clientMainThreadCpuSeconds: difference(clientMain, clientMainAfter),
      serverMainThreadCpuSeconds: difference(serverMain, serverMainAfter),
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

/**
 * CPU seconds (user + system) a process (all its threads), or one of its threads, has used so far,
 * where /proc tells it (10 ms resolution).
 */
async function processCpuSeconds(pid: number | undefined, thread?: number): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    // Fields 14 and 15 of the stat file, counted after the command name (which may hold spaces).
    const path = thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`;
    const stat = await readFile(path, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks: USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}
