import type { Child } from './process/child.js';
import type { ProbeReport } from './process/probe.js';
import { idleShare, type MachineCpu, machineCpu, processCpuMicros } from './process/proc-stat.js';

/**
 * BENCH_VERBOSE accounting of a stream run's measured window: every process's CPU time (from /proc, so
 * the nats-server's too), the machine's idle share, and what each worker reports when probed (its
 * deliveries, garbage collections, protocol and transport counters), read at the start and at the end
 * of the window. Only differences are printed, so nothing before the window (start-up, joins, TLS
 * handshakes) is counted in it.
 */

/** A process the harness did not fork but whose CPU counts (the nats-server). */
export interface HelperProcess {
  readonly label: string;
  readonly pid: number | undefined;
}

export interface WindowSample {
  /** Wall clock (ms since the Unix epoch) when /proc was read. */
  readonly at: number;
  readonly machine: MachineCpu;
  /** CPU µs so far, per child then per helper. */
  readonly cpu: readonly number[];
  /** Each child's probe report (its clock may lag `at` by the IPC round trip). */
  readonly probes: readonly (ProbeReport | undefined)[];
}

/** Reads /proc for every process, then probes every child. */
export async function sampleWindow(
  children: readonly Child[],
  helpers: readonly HelperProcess[],
  /** Earlier samples' moments: each receiver says how many it had received at each, and now. */
  earlier: readonly number[] = [],
): Promise<WindowSample> {
  const at = Date.now();
  const machine = machineCpu();
  const cpu = [
    ...children.map((child) => processCpuMicros(child.pid)),
    ...helpers.map((h) => processCpuMicros(h.pid)),
  ];
  const probes = await Promise.all(
    children.map((child) => {
      child.send('probe', { times: [...earlier, at] });
      return child.next<ProbeReport>('probe', 30_000).catch(() => undefined);
    }),
  );
  return { at, machine, cpu, probes };
}

type Numbers = { [key: string]: number | Numbers };

/** `after − before` for every numeric field (nested objects too). */
function difference(after: unknown, before: unknown): Numbers {
  const out: Numbers = {};
  if (typeof after !== 'object' || after === null) return out;
  for (const [key, value] of Object.entries(after)) {
    const old = (before as Record<string, unknown> | undefined)?.[key];
    if (typeof value === 'number') out[key] = value - (typeof old === 'number' ? old : 0);
    else if (typeof value === 'object' && value !== null) out[key] = difference(value, old);
  }
  return out;
}

function num(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

/** Tree batch copies received and duplicates, summed over the processes: before the window and in it. */
function treeCopies(start: WindowSample, end: WindowSample): Record<string, number> {
  const sum = (sample: WindowSample, key: string): number =>
    sample.probes.reduce((total, probe) => total + num((probe?.netmachine as Numbers | undefined)?.[key]), 0);
  if (!end.probes.some((probe) => (probe?.netmachine as Numbers | undefined)?.received !== undefined))
    return {};
  return {
    copiesBeforeWindow: sum(start, 'received'),
    duplicatesBeforeWindow: sum(start, 'duplicates'),
    copiesInWindow: sum(end, 'received') - sum(start, 'received'),
    duplicatesInWindow: sum(end, 'duplicates') - sum(start, 'duplicates'),
    graftsInWindow: sum(end, 'grafts') - sum(start, 'grafts'),
  };
}

/**
 * One JSON line for the run (for tools) and a short table (for people): per process the CPU used in
 * the window and its share of one core, garbage collections, and the system's counters.
 */
export function describeWindow(
  system: string,
  labels: readonly string[],
  start: WindowSample,
  end: WindowSample,
  goAt: number,
): string {
  const wallMs = end.at - start.at;
  const rows = labels.map((label, i) => {
    const cpuMs = ((end.cpu[i] ?? 0) - (start.cpu[i] ?? 0)) / 1000;
    const probe = difference(end.probes[i], start.probes[i]);
    return { label, cpuMs, core: cpuMs / wallMs, probe };
  });
  // Deliveries at the moments /proc was read (from each receiver's history), not when it answered.
  const countedAt = (i: number): number | undefined => {
    const at = (end.probes[i]?.deliveries as { receivedAt?: number[] } | undefined)?.receivedAt;
    return at !== undefined && at.length >= 2 ? at[1]! - at[0]! : undefined;
  };
  for (const [i, row] of rows.entries()) {
    const counted = countedAt(i);
    if (counted !== undefined) (row.probe.deliveries as Numbers).received = counted;
  }
  const deliveries = rows.reduce(
    (sum, row) => sum + num((row.probe.deliveries as Numbers | undefined)?.received),
    0,
  );
  const cpuMs = rows.reduce((sum, row) => sum + row.cpuMs, 0);
  const idle = idleShare(start.machine, end.machine);
  const sender = rows[0];
  const sent = num((sender?.probe.sender as Numbers | undefined)?.sent);
  const senderMs = sender?.cpuMs ?? 0;
  const receiversMs = rows
    .filter((row) => row.probe.deliveries !== undefined)
    .reduce((sum, row) => sum + row.cpuMs, 0);
  const firstDeliveries = start.probes
    .map((probe) => num((probe?.deliveries as { firstAt?: number } | undefined)?.firstAt))
    .filter((at) => at > 0);
  const skew =
    Math.max(...start.probes.map((p) => num(p?.at))) - Math.min(...start.probes.map((p) => num(p?.at)));
  const summary = {
    system,
    windowMs: Math.round(wallMs),
    windowStartAfterGoMs: Math.round(start.at - goAt),
    firstDeliveryAfterGoMs:
      firstDeliveries.length > 0 ? Math.round(Math.max(...firstDeliveries) - goAt) : undefined,
    probeSkewMs: Math.round(skew),
    machineIdle: idle === undefined ? undefined : +idle.toFixed(3),
    deliveries,
    deliveriesPerSec: Math.round((deliveries * 1000) / wallMs),
    cpuMs: Math.round(cpuMs),
    cpuUsPerDelivery: deliveries > 0 ? +((cpuMs * 1000) / deliveries).toFixed(2) : undefined,
    // The sender (first row) per message it sent: under load each process gets a share of a core,
    // and the sender's share over this is the most messages there can be.
    senderUsPerMessage: sent > 0 ? +((senderMs * 1000) / sent).toFixed(2) : undefined,
    receiversUsPerDelivery: deliveries > 0 ? +((receiversMs * 1000) / deliveries).toFixed(2) : undefined,
    senderCore: +(senderMs / wallMs).toFixed(3),
    // netmachine's tree: copies received and duplicates among them, before the window (start-up: the
    // first batches flood every link until pruned) and in it.
    ...treeCopies(start, end),
  };
  const lines = [`window ${JSON.stringify(summary)}`];
  for (const row of rows) {
    const { gc, at: _at, ...rest } = row.probe;
    // The first delivery's time is a moment, not a count: summarised above, not differenced here.
    delete (rest.deliveries as Numbers | undefined)?.firstAt;
    delete (rest.deliveries as Numbers | undefined)?.receivedAt;
    const g = gc as Numbers | undefined;
    const nm = rest.netmachine as Numbers | undefined;
    const events = num((rest.deliveries as Numbers | undefined)?.received) || num(nm?.published);
    const batches = num(nm?.batchesDelivered) || num(nm?.batchesSigned);
    const derived =
      nm === undefined
        ? ''
        : `  frames/write ${(num(nm.framesOut) / Math.max(1, num(nm.writes))).toFixed(2)}` +
          (batches > 0 ? `  events/batch ${(events / batches).toFixed(0)}` : '');
    lines.push(
      `  ${row.label.padEnd(24)} cpu ${row.cpuMs.toFixed(0).padStart(5)} ms (${(100 * row.core).toFixed(0).padStart(3)} % of a core)` +
        (g !== undefined ? `  gc ${num(g.count)} (${num(g.ms).toFixed(0)} ms)` : '') +
        derived +
        (Object.keys(rest).length > 0 ? `  ${JSON.stringify(rest)}` : ''),
    );
  }
  return lines.join('\n');
}
