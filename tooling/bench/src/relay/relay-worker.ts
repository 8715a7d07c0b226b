// The relay B of the relayed scenarios, in its own process: a node that relays for anyone with
// limits far above what a run sends. Prints its advert once listening; stops on SIGTERM.
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { createNode } from '@netmachine/node';
import { type RelayService, relay } from '@netmachine/relay';
import { sharedFramePool } from '@netmachine/transport/wire';
import { tls } from '@netmachine/transport-tls';
import type { RelayProcessMark, RelayProcessReport } from './relay-process.js';

const unlimited = { messagesPerSecond: 1e9, bytesPerSecond: 1e12 };
const node = await createNode({
  transports: [tls()],
  listen: ['tls://127.0.0.1:0'],
  services: {
    relay: relay({ offer: { policy: { kind: 'anyone' }, perSource: unlimited, total: unlimited } }),
  },
});
await node.start();
// Garbage collections by kind (count and ms), to tell scavenges from full collections.
const gc: Record<string, { count: number; ms: number }> = {};
const gcKinds: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak',
};
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = gcKinds[(entry as unknown as { detail: { kind: number } }).detail.kind] ?? 'other';
    const into = gc[kind] ?? { count: 0, ms: 0 };
    gc[kind] = into;
    into.count++;
    into.ms += entry.duration;
  }
});
if (process.env.BENCH_VERBOSE) gcObserver.observe({ entryTypes: ['gc'] });
const cpuBefore = process.cpuUsage();
process.stdout.write(`${JSON.stringify({ advert: node.advertText })}\n`);
// A mark (SIGUSR2): its CPU time and forwards so far, so a caller can count from its own warm-up on.
process.on('SIGUSR2', () => {
  const used = process.cpuUsage();
  const { forwarded } = (node.services as { relay: RelayService }).relay.counters();
  const mark: RelayProcessMark = { markCpuUs: used.user + used.system, forwarded };
  process.stdout.write(`${JSON.stringify(mark)}\n`);
});
process.once('SIGTERM', () => {
  // The relay's CPU time from listening to the end, and what it passed on in that time.
  const spent = process.cpuUsage(cpuBefore);
  const { forwarded: passedOn } = (node.services as { relay: RelayService }).relay.counters();
  const report: RelayProcessReport = {
    cpuMs: Math.round((spent.user + spent.system) / 1000),
    forwarded: passedOn,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  if (process.env.BENCH_VERBOSE) {
    // The relay's CPU time from listening to the end, and what it passed on in that time.
    const used = process.cpuUsage(cpuBefore);
    const { forwarded, heldBack, refused } = (node.services as { relay: RelayService }).relay.counters();
    const cpuMs = Math.round((used.user + used.system) / 1000);
    // Frames and socket writes out, to tell how many batches leave per write.
    const { writes, framesOut, bytesOut } = node.transport?.counters() ?? {};
    gcObserver.disconnect();
    for (const kind of Object.values(gc)) kind.ms = Math.round(kind.ms);
    // Frames reassembled in pooled buffers: reused (handed back by the relay) or newly made.
    const { reused, allocated, returned, dropped } = sharedFramePool.stats();
    const pool = { reused, allocated, returned, dropped };
    process.stderr.write(
      `${JSON.stringify({ relay: { cpuMs, forwarded, heldBack, refused, writes, framesOut, bytesOut, gc, pool } })}\n`,
    );
  }
  void node.stop().then(() => process.exit(0));
});
