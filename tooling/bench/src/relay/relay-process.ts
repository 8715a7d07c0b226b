import { startWorkerProcess } from './worker-process.js';

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
  const relay = await startWorkerProcess<{ advert: string }>('relay-worker', [
    '--conditions=@netmachine/source',
    '--import',
    'tsx',
  ]);
  try {
    const marks: Array<(mark: RelayProcessMark) => void> = [];
    // Its last line, as it stops: what it spent and passed on (other lines, e.g. V8 traces, are not ours).
    relay.lines.on('line', (line) => {
      if (line.startsWith('{"markCpuUs"')) marks.shift()?.(JSON.parse(line) as RelayProcessMark);
      if (!line.startsWith('{"cpuMs"')) return;
      onExit?.(JSON.parse(line) as RelayProcessReport);
    });
    // Marks are answered in order (one signal, one line).
    const mark = (): Promise<RelayProcessMark> =>
      new Promise((resolve) => {
        marks.push(resolve);
        relay.child.kill('SIGUSR2');
      });
    return await body(relay.first.advert, mark);
  } finally {
    await relay.stop();
  }
}
