/**
 * Where a relayed round trip's time goes, process by process: runs `request-loop` with every
 * process (client A, relay B, echo C) recording its socket writes and reads on the shared monotonic
 * clock (`socket-trace-hook.ts`), then lines the events up round trip by round trip and prints each
 * step's p10/p50/p90: a process's own work (data in → its write), each write call, and each hand-over
 * (a write returning → the next process's data: waking it, its read and TLS). `--system netmachine`
 * gives the direct loop's steps for comparison.
 * Usage: `pnpm bench:relay-trace [-- --system netmachine-relayed --system netmachine --requests 20000]`.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { percentile, RELAYED } from './loop-child.js';

/** The hook is always the built one: plain JavaScript, loaded before tsx would be. */
const HOOK = fileURLToPath(new URL('../../dist/diagnostics/socket-trace-hook.js', import.meta.url));
const extname = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const LOOP = fileURLToPath(new URL(`./request-loop${extname}`, import.meta.url));
/** A round trip's events are looked for among the next this many of all processes' events. */
const WINDOW = 64;

type Role = 'A' | 'B' | 'C';
/** Event codes of `socket-trace-hook.ts`. */
const CODES: Record<number, string> = { 1: 'W', 2: 'w', 3: 'D' };
const ROLES: Record<string, Role> = { client: 'A', relay: 'B', server: 'C' };

/** The steps of one round trip: `A.W` is A starting a write, `A.w` the write returning, `B.D` data at B. */
const STEPS: Record<string, string[]> = {
  [RELAYED]: ['A.W', 'A.w', 'B.D', 'B.W', 'B.w', 'C.D', 'C.W', 'C.w', 'B.D', 'B.W', 'B.w', 'A.D', 'A.W'],
  netmachine: ['A.W', 'A.w', 'C.D', 'C.W', 'C.w', 'A.D', 'A.W'],
};

function describe(from: string, to: string): string {
  const [p, a] = from.split('.') as [Role, string];
  const [q, b] = to.split('.') as [Role, string];
  if (p === q && a === 'W' && b === 'w') return `${p} write call`;
  if (p === q && a === 'D' && b === 'W') return `${p} own work (data → write)`;
  if (a === 'w' && b === 'D') return `${p} → ${q} hand-over (wake, read, TLS)`;
  return `${from} → ${to}`;
}

async function trace(system: string, requests: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'relay-trace-'));
  try {
    const child = execFile(
      process.execPath,
      [...process.execArgv, LOOP, '--system', system, '--requests', String(requests), '--rounds', '1'],
      { env: { ...process.env, BENCH_TRACE_DIR: dir, BENCH_WORKER_FLAGS: `--import ${HOOK}` } },
    );
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`request-loop ${system} exited ${code}`);
    console.log(out.trim().split('\n').pop());
    const events: Array<[number, string]> = [];
    for (const file of readdirSync(dir)) {
      const { role, kinds, times } = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
        role: string;
        kinds: number[];
        times: number[];
      };
      const r = ROLES[role] ?? 'B';
      for (let i = 0; i < kinds.length; i++)
        events.push([times[i] as number, `${r}.${CODES[kinds[i] as number]}`]);
    }
    events.sort((x, y) => x[0] - y[0]);
    report(system, events, STEPS[system] ?? (STEPS.netmachine as string[]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Each round trip: from an `A.W`, the steps in order among the events that follow. */
function report(system: string, events: ReadonlyArray<[number, string]>, steps: readonly string[]): void {
  const spans: number[][] = steps.slice(1).map(() => []);
  const totals: number[] = [];
  for (let i = 0; i < events.length; i++) {
    if ((events[i] as [number, string])[1] !== steps[0]) continue;
    const at = [(events[i] as [number, string])[0]];
    for (let j = i + 1, k = 1; k < steps.length && j < events.length && j < i + WINDOW; j++) {
      const [time, name] = events[j] as [number, string];
      if (name === steps[k]) {
        at.push(time);
        k++;
      }
    }
    if (at.length < steps.length) continue;
    for (let s = 0; s < spans.length; s++)
      (spans[s] as number[]).push((at[s + 1] as number) - (at[s] as number));
    totals.push((at[at.length - 1] as number) - (at[0] as number));
  }
  const us = (values: number[], p: number): string =>
    percentile(
      [...values].sort((x, y) => x - y),
      p,
    )
      .toFixed(1)
      .padStart(7);
  console.log(
    `${system}: ${totals.length} round trips traced, p10 ${us(totals, 0.1)} µs, p50 ${us(totals, 0.5)} µs`,
  );
  console.log(`${'step'.padEnd(40)}    p10     p50     p90  (µs)`);
  for (let s = 0; s < spans.length; s++) {
    const values = spans[s] as number[];
    console.log(
      `${describe(steps[s] as string, steps[s + 1] as string).padEnd(40)}${us(values, 0.1)} ${us(values, 0.5)} ${us(values, 0.9)}`,
    );
  }
}

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: { system: { type: 'string', multiple: true }, requests: { type: 'string', default: '20000' } },
});
if (!existsSync(HOOK)) throw new Error(`build the bench first (${HOOK} is missing)`);
for (const system of values.system ?? [RELAYED, 'netmachine']) await trace(system, Number(values.requests));
