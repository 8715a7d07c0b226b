/**
 * CPU per relayed message, all three parties in one process: a source A, a relay B and a destination
 * C that only B can reach, over TLS on loopback. relayed-unicast runs them as three processes on a
 * 2-core machine, so its rate says how the machine was shared as much as how much work a message
 * takes; this says the latter: (CPU time of the process) ÷ (messages delivered at C), per round.
 * Usage: `pnpm bench:relay-cpu [-- --messages N --rounds R]`.
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { EngineAddress } from '@netmachine/core';
import { createNode, type NetmachineNode } from '@netmachine/node';
import { type RelayOptions, type RelayService, relay, relayAddress } from '@netmachine/relay';
import { sharedFramePool } from '@netmachine/transport/wire';
import { tls } from '@netmachine/transport-tls';

type RelayNode = NetmachineNode<{ relay: RelayService }>;

const BODY_BYTES = 200;
/** Messages sent per task (they go as full batches) and at most in flight. */
const PER_TASK = 1000;
const IN_FLIGHT = 4000;
const STALL_MS = 5000;

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: { messages: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '3' } },
});
const messages = Number(values.messages);
const rounds = Number(values.rounds);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const unlimited = { messagesPerSecond: 1e9, bytesPerSecond: 1e12 };

async function start(
  options: RelayOptions,
  behind: RelayNode[] = [],
  peers: RelayNode[] = [],
): Promise<RelayNode> {
  const node = await createNode({
    transports: [tls()],
    listen: behind.length > 0 ? [] : ['tls://127.0.0.1:0'],
    advertiseListen: behind.length === 0,
    advertise: behind.map((r) => relayAddress(r.id)),
    peers: [...behind, ...peers].map((p) => ({ advert: p.advert })),
    services: { relay: relay({ ...options, use: behind.map((r) => r.id) }) },
  });
  await node.start();
  while (node.services.relay.registeredWith().length < behind.length) await sleep(10);
  return node;
}

const b = await start({ offer: { policy: { kind: 'anyone' }, perSource: unlimited, total: unlimited } });
const c = await start({}, [b]);
const a = await start({}, [], [b, c]);
await a.transport?.connect(b.id);
let delivered = 0;
c.spawn('sink', () => {
  delivered++;
});
const client = a.client('source');
const sink: EngineAddress = { node: c.id, name: 'sink' };
const body = Buffer.alloc(BODY_BYTES, 7);

/** Waits until `goal` messages were delivered; throws when none arrives for a while (a loss). */
async function deliveredUpTo(goal: number): Promise<void> {
  let last = delivered;
  let since = performance.now();
  while (delivered < goal) {
    await sleep(1);
    if (delivered !== last) {
      last = delivered;
      since = performance.now();
    } else if (performance.now() - since > STALL_MS) {
      throw new Error(`stalled at ${delivered} of ${goal} messages`);
    }
  }
}

async function send(count: number): Promise<void> {
  const base = delivered;
  for (let sent = 0; sent < count; ) {
    for (let i = 0; i < PER_TASK; i++) client.send(sink, body);
    sent += PER_TASK;
    await deliveredUpTo(base + sent - IN_FLIGHT);
  }
  await deliveredUpTo(base + count);
}

/** Full collections, and frames reassembled into fresh buffers: counts a loaded machine does not inflate. */
let majorGcs = 0;
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (
      (entry as unknown as { detail: { kind: number } }).detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR
    )
      majorGcs++;
  }
});
gcObserver.observe({ entryTypes: ['gc'] });

try {
  await send(messages / 2); // warm-up
  for (let round = 1; round <= rounds; round++) {
    const cpu = process.cpuUsage();
    const wall = performance.now();
    const gcsBefore = majorGcs;
    const allocatedBefore = sharedFramePool.stats().allocated;
    await send(messages);
    const used = process.cpuUsage(cpu);
    const seconds = (performance.now() - wall) / 1000;
    console.log(
      `round ${round}: ${((used.user + used.system) / messages).toFixed(2)} µs CPU per message (A + B + C), ` +
        `${Math.round(messages / seconds).toLocaleString('en-US')} msgs/s, ` +
        `${majorGcs - gcsBefore} full GCs, ${sharedFramePool.stats().allocated - allocatedBefore} frame buffers allocated`,
    );
  }
} finally {
  gcObserver.disconnect();
  await Promise.all([a.stop(), c.stop(), b.stop()]);
}
