/**
 * The remote-request loop, with the CPU it costs: a client process sends sequential requests (one in
 * flight) to an echoing server process over one connection and times each round trip, as
 * `remote-request` does. Each run also reports the CPU time (user + system) each process spent per
 * round trip, which a loaded machine does not inflate the way it inflates latencies. Systems
 * alternate run by run, so an A/B shares one window.
 * Usage: `pnpm bench:request-loop [-- --system netmachine --system raw-tls --requests 20000 --rounds 3]`.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makePayload, payloadSeq } from '../payload.js';
import { type RelayProcessMark, withRelayProcess } from '../relay/relay-process.js';
import { connectForRoundTrips } from '../roles/request.js';
import { loadSystem } from '../systems/index.js';
import {
  adapterOf,
  configOf,
  cpuMicros,
  type LoopChild,
  percentile,
  RELAYED,
  spawnLoopChild,
} from './loop-child.js';

const WARMUP = 2000;

type FromChild =
  | { readonly type: 'ready'; readonly target: unknown }
  | { readonly type: 'warm' }
  | { readonly type: 'done'; readonly cpuUs: number; readonly latenciesUs: number[]; readonly bad: number }
  | { readonly type: 'report'; readonly cpuUs: number };

async function server(system: string, relayAdvert?: string): Promise<void> {
  const adapter = await (await loadSystem(adapterOf(system)))(configOf(system, relayAdvert));
  let cpuAtWarm = 0;
  let seen = 0;
  const endpoint = await adapter.listen({
    echo: true,
    onMessage: () => {
      if (++seen === WARMUP + 1) cpuAtWarm = cpuMicros();
    },
  });
  process.send?.({ type: 'ready', target: endpoint.info } satisfies FromChild);
  process.once('message', async () => {
    process.send?.({ type: 'report', cpuUs: cpuMicros() - cpuAtWarm } satisfies FromChild);
    await endpoint.close();
    await adapter.shutdown?.();
    process.disconnect?.();
  });
}

async function client(
  system: string,
  target: unknown,
  requests: number,
  relayAdvert?: string,
): Promise<void> {
  const adapter = await (await loadSystem(adapterOf(system)))(configOf(system, relayAdvert));
  const { link, roundTrip } = await connectForRoundTrips(adapter, target);
  const latenciesUs: number[] = [];
  let bad = 0;
  let cpuAtWarm = 0;
  for (let seq = 0; seq < WARMUP + requests; seq++) {
    if (seq === WARMUP) {
      process.send?.({ type: 'warm' } satisfies FromChild);
      cpuAtWarm = cpuMicros();
    }
    const sentAt = process.hrtime.bigint();
    const reply = await roundTrip(makePayload(seq));
    const elapsedUs = Number(process.hrtime.bigint() - sentAt) / 1000;
    if (payloadSeq(reply) !== seq) bad++;
    if (seq >= WARMUP) latenciesUs.push(elapsedUs);
  }
  const cpuUs = cpuMicros() - cpuAtWarm;
  process.send?.({ type: 'done', cpuUs, latenciesUs, bad } satisfies FromChild);
  await link.close();
  await adapter.shutdown?.();
  process.disconnect?.();
}

function spawn(args: string[]): LoopChild<FromChild> {
  return spawnLoopChild<FromChild>(fileURLToPath(import.meta.url), args, [
    ...process.execArgv,
    ...(process.env.BENCH_WORKER_FLAGS?.split(' ').filter(Boolean) ?? []),
  ]);
}

async function run(system: string, requests: number): Promise<string> {
  if (system !== RELAYED) return runPair(system, requests);
  return withRelayProcess(async (advert, mark) => {
    // The relay's CPU from the client's warm-up on, like the other two: marked when the client
    // says it is warm and when it is done, divided by the round trips between (two forwards each).
    let warm: Promise<RelayProcessMark> | undefined;
    let done: RelayProcessMark | undefined;
    const line = await runPair(system, requests, advert, {
      warm: () => {
        warm = mark();
      },
      done: async () => {
        done = await mark();
      },
    });
    const from = await warm;
    if (from === undefined || done === undefined) return `${line}, relay ? µs`;
    const roundTrips = (done.forwarded - from.forwarded) / 2;
    return `${line}, relay ${((done.markCpuUs - from.markCpuUs) / roundTrips).toFixed(1)} µs`;
  });
}

interface RelayMarks {
  warm(): void;
  done(): Promise<void>;
}

async function runPair(
  system: string,
  requests: number,
  relayAdvert?: string,
  relayMarks?: RelayMarks,
): Promise<string> {
  const relayArg = relayAdvert === undefined ? [] : [relayAdvert];
  const echo = spawn(['server', system, ...relayArg]);
  const ready = await echo.next();
  if (ready.type !== 'ready') throw new Error('the server did not start');
  const asker = spawn(['client', system, JSON.stringify(ready.target), String(requests), ...relayArg]);
  let done = await asker.next();
  if (done.type === 'warm') {
    relayMarks?.warm();
    done = await asker.next();
  }
  if (done.type !== 'done') throw new Error('the client did not finish');
  await relayMarks?.done();
  echo.child.send('report');
  const report = await echo.next();
  if (report.type !== 'report') throw new Error('the server did not report');
  const sorted = [...done.latenciesUs].sort((a, b) => a - b);
  const us = (value: number): string => value.toFixed(1);
  const bad = done.bad > 0 ? `  BAD ${done.bad}` : '';
  return `${system.padEnd(11)} p10 ${us(percentile(sorted, 0.1))} µs  p50 ${us(percentile(sorted, 0.5))} µs  p99 ${us(percentile(sorted, 0.99))} µs  CPU per round trip: client ${us(done.cpuUs / requests)} µs, server ${us(report.cpuUs / requests)} µs${bad}`;
}

async function main(): Promise<void> {
  const [role, system, ...rest] = process.argv.slice(2);
  if (role === 'server') return server(system!, rest[0]);
  if (role === 'client') return client(system!, JSON.parse(rest[0]!), Number(rest[1]), rest[2]);
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((arg) => arg !== '--'),
    options: {
      system: { type: 'string', multiple: true },
      requests: { type: 'string', default: '20000' },
      rounds: { type: 'string', default: '3' },
    },
  });
  const systems = values.system ?? ['netmachine', 'raw-tls'];
  const requests = Number.parseInt(values.requests, 10);
  const rounds = Number.parseInt(values.rounds, 10);
  for (let round = 1; round <= rounds; round++) {
    for (const name of systems) console.log(`round ${round}  ${await run(name, requests)}`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
