import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const WORKER = process.env.BENCH_DIST
  ? fileURLToPath(new URL('../../dist/relay/relay-worker.js', import.meta.url))
  : fileURLToPath(new URL('./relay-worker.ts', import.meta.url));
const WORKER_FLAGS = process.env.BENCH_DIST ? [] : ['--conditions=@netmachine/source', '--import', 'tsx'];

/** What the relay process says as it stops: its CPU time from listening on, and the batches it passed on. */
export interface RelayProcessReport {
  readonly cpuMs: number;
  readonly forwarded: number;
}

/** The relay process's CPU time (user + system, µs, since it began) and forwards so far, at a mark. */
export interface RelayProcessMark {
  readonly markCpuUs: number;
  readonly forwarded: number;
}

/**
 * Runs `body` with a relay node in its own process (the B of A → B → C), given its advert; the
 * sender and receiver processes of the run use it as their only way to each other.
 */
export async function withRelayProcess<T>(
  body: (relayAdvert: string, mark: () => Promise<RelayProcessMark>) => Promise<T>,
  onExit?: (report: RelayProcessReport) => void,
): Promise<T> {
  // BENCH_WORKER_FLAGS (e.g. --cpu-prof) apply to the relay process as to the other workers.
  const extra = (process.env.BENCH_WORKER_FLAGS ?? '').split(' ').filter((flag) => flag !== '');
  const child = spawn(process.execPath, [...WORKER_FLAGS, ...extra, WORKER], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  try {
    const advert = await new Promise<string>((resolve, reject) => {
      lines.once('line', (line) => resolve((JSON.parse(line) as { advert: string }).advert));
      child.once('exit', (code) => reject(new Error(`relay process exited ${code}`)));
    });
    const marks: Array<(mark: RelayProcessMark) => void> = [];
    // Its last line, as it stops: what it spent and passed on (other lines, e.g. V8 traces, are not ours).
    lines.on('line', (line) => {
      if (line.startsWith('{"markCpuUs"')) marks.shift()?.(JSON.parse(line) as RelayProcessMark);
      if (!line.startsWith('{"cpuMs"')) return;
      onExit?.(JSON.parse(line) as RelayProcessReport);
    });
    // Marks are answered in order (one signal, one line).
    const mark = (): Promise<RelayProcessMark> =>
      new Promise((resolve) => {
        marks.push(resolve);
        child.kill('SIGUSR2');
      });
    return await body(advert, mark);
  } finally {
    // 'close': its stdout is read to the end, so its last line is in.
    const closed = new Promise((resolve) => child.once('close', resolve));
    child.kill('SIGTERM');
    await closed;
    lines.close();
  }
}
