import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { KeyPair } from '@netmachine/core';
import { NatsBridge } from '@netmachine/nats';
import { Router } from '@netmachine/router';
import { withNatsServer } from '../nats-server.js';
import type { Contender, Measurement, Settings } from '../scenario.js';
import { latencySummary } from '../stats.js';

/**
 * nats-engine-*: a node (router + NATS bridge, in the harness process) and engine `worker` in one or
 * two other processes attached through a fresh nats-server. Requests carry 200 B and come back
 * unchanged; the pool scenario gives each request some hashing so that a second process has work to take.
 */
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const WORKER = process.env.BENCH_DIST
  ? fileURLToPath(new URL('../../dist/nats-engine/engine-worker.js', import.meta.url))
  : fileURLToPath(new URL('./engine-worker.ts', import.meta.url));
/** NM_BENCH_WORKER_FLAGS: extra node flags for the engine processes, e.g. `--cpu-prof --cpu-prof-dir=DIR` to profile them. */
const WORKER_FLAGS = [
  ...(process.env.NM_BENCH_WORKER_FLAGS?.split(' ').filter((flag) => flag !== '') ?? []),
  ...(process.env.BENCH_DIST ? [] : ['--conditions=@netmachine/source', '--import', 'tsx']),
];
const BODY = randomBytes(200);
/** SHA-256 rounds per request in the pool scenario (NM_POOL_WORK): enough that the processes, not the node, are the bottleneck. */
const POOL_WORK = Number(process.env.NM_POOL_WORK ?? 2000);
const POOL_CONCURRENCY = 64;

interface Setup {
  readonly request: () => Promise<unknown>;
}

async function withEngine<T>(workers: number, work: number, body: (setup: Setup) => Promise<T>): Promise<T> {
  return withNatsServer(async (url) => {
    const nodeKey = KeyPair.generate();
    const workerSeed = randomBytes(32);
    const workerKey = KeyPair.fromSeed(workerSeed);
    const router = new Router({ node: nodeKey.id });
    const bridge = new NatsBridge({
      router,
      keyPair: nodeKey,
      servers: [url],
      trustedKeys: { worker: [workerKey.id] },
      mailboxSize: 4096,
    });
    const children: ChildProcess[] = [];
    try {
      await bridge.start();
      await bridge.whenConnected();
      for (let i = 0; i < workers; i++) {
        const child = spawn(process.execPath, [...WORKER_FLAGS, WORKER], {
          cwd: REPO_ROOT,
          env: {
            ...process.env,
            NM_BENCH_ENGINE: JSON.stringify({
              servers: [url],
              node: nodeKey.id,
              seed: workerSeed.toString('hex'),
              work,
            }),
          },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        children.push(child);
        await new Promise<void>((resolve, reject) => {
          createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', () => resolve());
          child.once('exit', (code) => reject(new Error(`engine worker exited ${code}`)));
        });
      }
      while (bridge.status().engines.worker !== workers) await new Promise((r) => setTimeout(r, 10));
      const client = router.client('bench');
      return await body({ request: () => client.request('worker', BODY, { timeoutMs: 10_000 }) });
    } finally {
      for (const child of children) child.kill('SIGTERM');
      await bridge.stop();
      await router.stop();
    }
  });
}

/** Sequential requests: round-trip p50 / p99. */
export const natsEngineRequest: Contender = {
  system: 'netmachine',
  transport: 'nats',
  measure: (settings: Settings): Promise<Measurement> =>
    withEngine(1, 0, async ({ request }) => {
      const samples: number[] = [];
      const start = performance.now();
      const measureFrom = start + settings.warmupMs;
      const end = measureFrom + settings.durationMs;
      for (let now = start; now < end; now = performance.now()) {
        await request();
        if (now >= measureFrom) samples.push((performance.now() - now) * 1000);
      }
      const summary = latencySummary(samples);
      return { p50us: summary?.p50, p99us: summary?.p99 };
    }),
};

/** `POOL_CONCURRENCY` requests in flight to a pool of `workers` processes: replies per second. */
function poolOf(workers: number, system: string): Contender {
  return {
    system,
    transport: 'nats',
    measure: (settings: Settings): Promise<Measurement> =>
      withEngine(workers, POOL_WORK, async ({ request }) => {
        const start = performance.now();
        const measureFrom = start + settings.warmupMs;
        const end = measureFrom + settings.durationMs;
        let counted = 0;
        await Promise.all(
          Array.from({ length: POOL_CONCURRENCY }, async () => {
            while (performance.now() < end) {
              await request();
              if (performance.now() >= measureFrom) counted++;
            }
          }),
        );
        return { msgsPerSec: counted / (settings.durationMs / 1000) };
      }),
  };
}

/** The pool of two, compared with the pool of one as its peer: the ratio is the scaling. */
export const natsEnginePoolOfTwo = poolOf(2, 'netmachine');
export const natsEnginePoolOfOne = poolOf(1, 'pool-of-1');
