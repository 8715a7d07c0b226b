/**
 * CPU per fan-out delivery, every party in one process (plus the nats-server, whose CPU time is read
 * from /proc). The pubsub-fanout scenario runs 5 processes on a 2-core machine, so its rate says how
 * the machine was shared as much as how much work each delivery takes; this says the latter:
 * (CPU time of every party) ÷ (deliveries). Usage: `pnpm bench:fanout-cpu [-- --events N]`.
 * `--tree` measures pubsub-tree's shape instead: 8 subscribers of a domain topic whose events travel
 * over the domain's broadcast tree (nats: the same 1 : 8 fan-out through the server). `--yield-every
 * 256` yields to the event loop as often as the bench's sender does.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { NatsServer } from '../nats-server.js';
import { processCpuMicros } from '../process/proc-stat.js';
import { nats } from '../systems/nats.js';
import { netmachine } from '../systems/netmachine.js';
import type { SystemFactory } from '../systems/types.js';

const BODY_BYTES = 200;
interface Outcome {
  readonly system: string;
  readonly deliveries: number;
  readonly wallMs: number;
  readonly cpuUsPerDelivery: number;
  /** The kernel's share of it (system time: loopback TCP, page faults). */
  readonly systemUsPerDelivery: number;
}

interface Shape {
  readonly subscribers: number;
  readonly tree: boolean;
  /** Yield to the event loop after this many sends (0: only when the link pushes back). */
  readonly yieldEvery: number;
}

async function measure(name: string, factory: SystemFactory, events: number, shape: Shape): Promise<Outcome> {
  const server = name === 'nats' ? await NatsServer.start() : undefined;
  const shared = server !== undefined ? { url: server.url } : { topicSeed: '5a'.repeat(32) };
  const config = { transport: 'tls', shared, ...(shape.tree ? { tree: true } : {}) };
  let received = 0;
  const expected = events * shape.subscribers;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const systems = [];
  const endpoints = [];
  for (let i = 0; i < shape.subscribers; i++) {
    const system = await factory(config);
    systems.push(system);
    endpoints.push(
      await system.subscribe!({
        onMessage: () => {
          if (++received === expected) finish();
        },
      }),
    );
  }
  const publisherSystem = await factory(config);
  systems.push(publisherSystem);
  const link = await publisherSystem.publisher!(endpoints.map((endpoint) => endpoint.info));
  const payload = new Uint8Array(BODY_BYTES);
  const serverBefore = processCpuMicros(server?.pid);
  const before = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < events; i++) {
    if (!link.send(payload)) await link.drained();
    if (shape.yieldEvery > 0 && (i + 1) % shape.yieldEvery === 0) await yieldToLoop();
  }
  await done;
  const wallMs = performance.now() - started;
  const own = process.cpuUsage(before);
  const serverCpu = processCpuMicros(server?.pid) - serverBefore;
  await link.close();
  for (const endpoint of endpoints) await endpoint.close();
  for (const system of systems) await system.shutdown?.();
  await server?.stop();
  const cpu = own.user + own.system + serverCpu;
  return {
    system: name,
    deliveries: received,
    wallMs,
    cpuUsPerDelivery: cpu / received,
    systemUsPerDelivery: own.system / received,
  };
}

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    events: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '3' },
    tree: { type: 'boolean', default: false },
    // Yield to the event loop every N sends, as the bench's sender does (every 256): a tree publisher
    // then signs what one turn published, unless its batch lingers.
    'yield-every': { type: 'string', default: '0' },
    // One system alone (`netmachine` or `nats`), e.g. under `--cpu-prof`.
    only: { type: 'string' },
  },
});
const shape: Shape = {
  subscribers: values.tree ? 8 : 4,
  tree: values.tree,
  yieldEvery: Number.parseInt(values['yield-every'], 10),
};
const events = Number.parseInt(values.events, 10);
const runs = Number.parseInt(values.runs, 10);
const contenders = (
  [
    ['netmachine', netmachine],
    ['nats', nats],
  ] as [string, SystemFactory][]
).filter(([name]) => values.only === undefined || name === values.only);
const results = new Map<string, number[]>();
for (let run = 0; run < runs; run++) {
  for (const [name, factory] of contenders) {
    const outcome = await measure(name, factory, events, shape);
    console.log(
      `${name.padEnd(11)} run ${run + 1}/${runs}: ${outcome.deliveries} deliveries in ${outcome.wallMs.toFixed(0)} ms, ${outcome.cpuUsPerDelivery.toFixed(2)} µs CPU per delivery (${outcome.systemUsPerDelivery.toFixed(2)} µs of it system, this process)`,
    );
    results.set(name, [...(results.get(name) ?? []), outcome.cpuUsPerDelivery]);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ours = results.get('netmachine');
const theirs = results.get('nats');
if (ours !== undefined && theirs !== undefined)
  console.log(
    `\nmedian CPU per delivery: netmachine ${median(ours).toFixed(2)} µs, nats ${median(theirs).toFixed(2)} µs (client + server): ${(median(ours) / median(theirs)).toFixed(2)}× nats`,
  );
process.exit(0);
