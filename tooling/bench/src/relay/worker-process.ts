import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** A helper process of a run (the relay, the TLS forwarder), its stdout read line by line. */
export interface WorkerProcess<First> {
  readonly child: ChildProcess;
  readonly lines: Interface;
  /** The first line it printed, parsed: what the run needs to reach it. */
  readonly first: First;
  /** Sends SIGTERM and waits until its stdout is read to the end. */
  stop(): Promise<void>;
}

/**
 * Starts `name` (a script beside this file: the built one under BENCH_DIST, else the source through
 * tsx) with BENCH_WORKER_FLAGS (e.g. --cpu-prof), and waits for its first line.
 */
export async function startWorkerProcess<First>(
  name: string,
  sourceFlags: string[],
): Promise<WorkerProcess<First>> {
  const script = process.env.BENCH_DIST
    ? fileURLToPath(new URL(`../../dist/relay/${name}.js`, import.meta.url))
    : fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  const flags = process.env.BENCH_DIST ? [] : sourceFlags;
  const extra = (process.env.BENCH_WORKER_FLAGS ?? '').split(' ').filter((flag) => flag !== '');
  const child = spawn(process.execPath, [...flags, ...extra, script], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) {
      lines.close();
      return;
    }
    // 'close': its stdout is read to the end, so its last line is in.
    const closed = new Promise((resolve) => child.once('close', resolve));
    child.kill('SIGTERM');
    await closed;
    lines.close();
  };
  try {
    const first = await new Promise<First>((resolve, reject) => {
      lines.once('line', (line) => resolve(JSON.parse(line) as First));
      child.once('exit', (code) => reject(new Error(`${name} exited ${code}`)));
    });
    return { child, lines, first, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
