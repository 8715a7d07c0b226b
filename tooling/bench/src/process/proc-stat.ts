import { readFileSync } from 'node:fs';

/**
 * CPU time from Linux's /proc, for processes the harness did not write (nats-server) as well as its own
 * workers: read at two moments, the difference is what a process spent between them. Elsewhere every
 * reading is 0, so the figures say nothing rather than something wrong.
 */

/** USER_HZ: the unit of the times in /proc (100 on every Linux this runs on). */
const CLOCK_TICKS_PER_SECOND = 100;

/** user + system CPU of a process so far, in µs (0 when it cannot be read). */
export function processCpuMicros(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // Fields 14 and 15 of stat (utime, stime), counted from after the command name.
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** The machine's CPU time so far, over all cores, in ticks: how much of it was idle. */
export interface MachineCpu {
  readonly idle: number;
  readonly total: number;
}

export function machineCpu(): MachineCpu {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest times are already counted in user).
    const total = ticks.slice(0, 8).reduce((sum, value) => sum + value, 0);
    return { idle: (ticks[3] ?? 0) + (ticks[4] ?? 0), total };
  } catch {
    return { idle: 0, total: 0 };
  }
}

/** The idle share of the machine between two readings (0..1; undefined when nothing could be read). */
export function idleShare(before: MachineCpu, after: MachineCpu): number | undefined {
  const total = after.total - before.total;
  return total > 0 ? (after.idle - before.idle) / total : undefined;
}
