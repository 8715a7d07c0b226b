import { SingleBar } from 'cli-progress';

export interface ProgressEvent {
  bytes: number;
  totalBytes: number | null;
}

/**
 * Shows transfer progress: a bar with rate and ETA on a terminal, plain lines (at most one a second)
 * otherwise. Written to stderr, so stdout keeps only the command's result.
 */
export function progressReporter(label: string): { update(e: ProgressEvent): void; stop(): void } {
  const started = Date.now();
  if (process.stderr.isTTY) {
    const bar = new SingleBar({
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {value}/{total} MiB | {rate} MiB/s | ETA {eta_formatted}`,
      hideCursor: true,
    });
    let began = false;
    return {
      update(e) {
        const mib = (n: number) => Number((n / 2 ** 20).toFixed(1));
        const rate = mib(e.bytes / Math.max(0.001, (Date.now() - started) / 1000));
        if (!began) {
          bar.start(mib(e.totalBytes ?? e.bytes), 0, { rate });
          began = true;
        }
        if (e.totalBytes !== null) bar.setTotal(mib(e.totalBytes));
        bar.update(mib(e.bytes), { rate });
      },
      stop() {
        if (began) bar.stop();
      },
    };
  }
  let lastLine = 0;
  return {
    update(e) {
      const now = Date.now();
      if (now - lastLine < 1000 && e.bytes !== e.totalBytes) return;
      lastLine = now;
      const seconds = Math.max(0.001, (now - started) / 1000);
      const rate = e.bytes / seconds / 2 ** 20;
      const pct = e.totalBytes ? ` ${((100 * e.bytes) / e.totalBytes).toFixed(0)}%` : '';
      const eta =
        e.totalBytes && rate > 0 ? ` eta ${((e.totalBytes - e.bytes) / 2 ** 20 / rate).toFixed(0)} s` : '';
      process.stderr.write(
        `${label}${pct} ${(e.bytes / 2 ** 20).toFixed(1)} MiB ${rate.toFixed(1)} MiB/s${eta}\n`,
      );
    },
    stop() {},
  };
}
