import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { KeyPair, NodeId } from '@netmachine/core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { NatsServer } from '../src/testing/index.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/engine-process.ts', import.meta.url));

type Cleanup = () => Promise<unknown>;

/** Undoes what a test set up, last pushed first; a failing cleanup fails nothing. */
async function runCleanups(cleanups: Cleanup[]): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
}

/** What a test pushes here is undone after it. */
export function cleanupsAfterEach(): Cleanup[] {
  const cleanups: Cleanup[] = [];
  afterEach(() => runCleanups(cleanups));
  return cleanups;
}

/**
 * One nats-server for the test file, started before its first test and closed after its last, with
 * the file's cleanups. A test that leaves the server down (it failed while it was) does not take the
 * next tests with it: the server is restarted after the cleanups.
 */
export function natsServerPerFile(): { readonly server: () => NatsServer; readonly cleanups: Cleanup[] } {
  let current: NatsServer | undefined;
  const cleanups: Cleanup[] = [];
  beforeAll(async () => {
    current = await NatsServer.start();
  });
  afterAll(async () => {
    await current?.close();
  });
  afterEach(async () => {
    await runCleanups(cleanups);
    if (current !== undefined && !current.running) await current.restart();
  });
  const server = () => {
    if (current === undefined) throw new Error('the nats-server starts before the first test');
    return current;
  };
  return { server, cleanups };
}

export interface EngineProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Lines the process reported, parsed. */
  readonly reports: Record<string, unknown>[];
  /** Resolves with the first `attached` or `failed` report. */
  readonly outcome: Promise<Record<string, unknown>>;
  readonly exited: Promise<void>;
  /** SIGTERM: the engine detaches cleanly. */
  stop(): Promise<void>;
  /** SIGKILL: the process vanishes without a word. */
  kill(): Promise<void>;
}

/** Starts an engine in its own Node.js process, attached to `node` as `name` through NATS. */
export function spawnEngineProcess(options: {
  servers: string[];
  node: NodeId;
  name: string;
  key: KeyPair;
  heartbeatMs?: number;
  noRandomize?: boolean;
}): EngineProcess {
  const config = {
    servers: options.servers,
    node: options.node,
    name: options.name,
    seed: Buffer.from(options.key.exportSeed()).toString('hex'),
    heartbeatMs: options.heartbeatMs,
    noRandomize: options.noRandomize,
  };
  const child = spawn(process.execPath, ['--conditions=@netmachine/source', '--import', 'tsx', FIXTURE], {
    env: { ...process.env, NM_ENGINE_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const reports: Record<string, unknown>[] = [];
  // 'close' comes after the process exited and its output was read to the end.
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const outcome = new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const report = JSON.parse(line) as Record<string, unknown>;
      reports.push(report);
      if (report.event === 'attached' || report.event === 'failed') resolve(report);
    });
    void exited.then(() => reject(new Error(`engine process exited: ${JSON.stringify(reports)}`)));
  });
  outcome.catch(() => {});
  const terminate = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    child,
    pid: child.pid as number,
    reports,
    outcome,
    exited,
    stop: () => terminate('SIGTERM'),
    kill: () => terminate('SIGKILL'),
  };
}
