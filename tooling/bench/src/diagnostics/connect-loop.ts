/**
 * The connect scenario's loop, with the CPU it costs: a dialer process connects afresh, sends one
 * message, waits for its echo and closes, again and again; the listener process times each first
 * message from the dialer's start to its delivery (as `connect` does). Each run also reports the CPU
 * time (user + system) each process spent per connect, which a loaded machine does not inflate the
 * way it inflates latencies. Systems alternate run by run, so an A/B shares one window.
 * Usage: `pnpm bench:connect-loop [-- --system netmachine --system raw-tls --connects 150 --rounds 3]`;
 * under `chrt -f 10` the other jobs on a shared machine no longer decide the latencies.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makePayload, payloadSentAtNs, payloadSeq } from '../payload.js';
import { loadSystem } from '../systems/index.js';
import { configOf, cpuMicros, type LoopChild, percentile, spawnLoopChild } from './loop-child.js';

const WARMUP = 5;

type FromChild =
  | { readonly type: 'ready'; readonly target: unknown }
  | { readonly type: 'done'; readonly cpuUs: number }
  | { readonly type: 'report'; readonly latenciesUs: number[]; readonly cpuUs: number };

async function listener(system: string): Promise<void> {
  const adapter = await (await loadSystem(system))(configOf(system));
  const latenciesUs: number[] = [];
  let cpuAtWarm = 0;
  const endpoint = await adapter.listen({
    echo: true,
    onMessage: (payload) => {
      const now = process.hrtime.bigint();
      const seq = payloadSeq(payload);
      if (seq === WARMUP) cpuAtWarm = cpuMicros();
      if (seq >= WARMUP) latenciesUs.push(Number(now - payloadSentAtNs(payload)) / 1000);
    },
  });
  process.send?.({ type: 'ready', target: endpoint.info } satisfies FromChild);
  process.once('message', async () => {
    process.send?.({ type: 'report', latenciesUs, cpuUs: cpuMicros() - cpuAtWarm } satisfies FromChild);
    await endpoint.close();
    await adapter.shutdown?.();
    process.disconnect?.();
  });
}

async function dialer(system: string, target: unknown, connects: number): Promise<void> {
  const adapter = await (await loadSystem(system))(configOf(system));
  let cpuAtWarm = 0;
  for (let seq = 0; seq < WARMUP + connects; seq++) {
    if (seq === WARMUP) cpuAtWarm = cpuMicros();
    let echoed!: () => void;
    const echo = new Promise<void>((resolve) => {
      echoed = resolve;
    });
    const startedAt = process.hrtime.bigint();
    const link = await adapter.connect({ target, onMessage: () => echoed() });
    const first = makePayload(seq, startedAt);
    if (link.request !== undefined) await link.request(first);
    else {
      link.send(first);
      await echo;
    }
    await link.close();
  }
  process.send?.({ type: 'done', cpuUs: cpuMicros() - cpuAtWarm } satisfies FromChild);
  await adapter.shutdown?.();
  process.disconnect?.();
}

function spawn(args: string[]): LoopChild<FromChild> {
  return spawnLoopChild<FromChild>(fileURLToPath(import.meta.url), args, process.execArgv);
}

async function run(system: string, connects: number): Promise<string> {
  const server = spawn(['listener', system]);
  const ready = await server.next();
  if (ready.type !== 'ready') throw new Error('the listener did not start');
  const client = spawn(['dialer', system, JSON.stringify(ready.target), String(connects)]);
  const done = await client.next();
  if (done.type !== 'done') throw new Error('the dialer did not finish');
  server.child.send('report');
  const report = await server.next();
  if (report.type !== 'report') throw new Error('the listener did not report');
  const sorted = [...report.latenciesUs].sort((a, b) => a - b);
  const ms = (us: number): string => (us / 1000).toFixed(2);
  return `${system.padEnd(11)} p10 ${ms(percentile(sorted, 0.1))} ms  p50 ${ms(percentile(sorted, 0.5))} ms  CPU per connect: dialer ${ms(done.cpuUs / connects)} ms, listener ${ms(report.cpuUs / connects)} ms`;
}

async function main(): Promise<void> {
  const [role, system, ...rest] = process.argv.slice(2);
  if (role === 'listener') return listener(system!);
  if (role === 'dialer') return dialer(system!, JSON.parse(rest[0]!), Number(rest[1]));
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((arg) => arg !== '--'),
    options: {
      system: { type: 'string', multiple: true },
      connects: { type: 'string', default: '150' },
      rounds: { type: 'string', default: '3' },
    },
  });
  const systems = values.system ?? ['netmachine', 'raw-tls'];
  const connects = Number.parseInt(values.connects, 10);
  const rounds = Number.parseInt(values.rounds, 10);
  for (let round = 1; round <= rounds; round++) {
    for (const name of systems) console.log(`round ${round}  ${await run(name, connects)}`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
