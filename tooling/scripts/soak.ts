/**
 * The soak run: `pnpm soak -- --minutes N [--rate R] [--reset-every S]`. Three node processes on
 * loopback exchange numbered unicast messages, requests and pub/sub events for N minutes while
 * their connections are reset every S seconds; then traffic stops, queues drain, and every message
 * sent is matched against what arrived. Prints a summary and writes bench/results/soak-latest.json.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pinFreePorts } from '../../apps/node/src/free-ports.js';
import { formatNodeAdvert, KeyPair } from '../../packages/core/src/index.js';
import { signOwnAdvert } from '../../packages/node/src/index.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    rate: { type: 'string', default: '200' },
    'reset-every': { type: 'string', default: '20' },
  },
  allowPositionals: true,
});
const minutes = Number(values.minutes);
const rate = Number(values.rate);
const resetEvery = Number(values['reset-every']);
const NODE_SCRIPT = fileURLToPath(new URL('./soak-node.ts', import.meta.url));
const RESULTS = fileURLToPath(new URL('../../bench/results/soak-latest.json', import.meta.url));
const log = (line: string) => process.stdout.write(`${line}\n`);

interface Stats {
  type: string;
  index: number;
  id: string;
  sent: Record<string, number>;
  received: Record<string, { unique: number; duplicates: number }>;
  requests: { ok: number; failed: number };
  published: number;
  events: { received: number; gapsReported: number; missedInGaps: number; firstSeq: number };
  rssMb: number;
  heapMb: number;
  handles: number;
  connections: number;
  queued: number;
}

const seeds = [0, 1, 2].map(() => randomBytes(32).toString('hex'));
const addrs = await pinFreePorts(['tls://127.0.0.1:0', 'tls://127.0.0.1:0', 'tls://127.0.0.1:0']);
const adverts = seeds.map((s, i) =>
  formatNodeAdvert(signOwnAdvert(KeyPair.fromSeed(Buffer.from(s, 'hex')), [addrs[i] as string])),
);
const topicSeed = randomBytes(32).toString('hex');

const timeline: Stats[] = [];
const finals: Stats[] = [];
const children: ChildProcess[] = [];
const ready: Promise<void>[] = [];
for (let index = 0; index < 3; index++) {
  const child = spawn(process.execPath, ['--conditions=@netmachine/source', '--import', 'tsx', NODE_SCRIPT], {
    env: { ...process.env, NM_SOAK: JSON.stringify({ index, seeds, addrs, adverts, topicSeed, rate }) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  let buffer = '';
  ready.push(
    new Promise((resolve) => {
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk;
        let nl = buffer.indexOf('\n');
        while (nl >= 0) {
          const line = JSON.parse(buffer.slice(0, nl)) as Stats;
          buffer = buffer.slice(nl + 1);
          nl = buffer.indexOf('\n');
          if (line.type === 'ready') resolve();
          else if (line.type === 'stats') timeline.push(line);
          else if (line.type === 'final') finals.push(line);
        }
      });
    }),
  );
}
await Promise.all(ready);
log(`soak: 3 node processes, ${rate} msgs/s per pair, resets every ${resetEvery} s, ${minutes} min`);

const started = Date.now();
let resets = 0;
const resetting = setInterval(() => {
  const child = children[resets % children.length];
  child?.stdin?.write('reset\n');
  resets++;
}, resetEvery * 1000);
const progress = setInterval(() => {
  const latest = timeline.slice(-3);
  const rss = latest.map((s) => `${s.rssMb}MB`).join('/');
  log(`  t=${Math.round((Date.now() - started) / 1000)}s rss ${rss} resets ${resets}`);
}, 30_000);
await new Promise((resolve) => setTimeout(resolve, minutes * 60_000));
clearInterval(resetting);
clearInterval(progress);
for (const child of children) child.stdin?.write('finish\n');
await Promise.all(children.map((c) => new Promise((resolve) => c.once('exit', resolve))));

// Match every pair's sent count with the receiver's unique count.
const byId = new Map(finals.map((f) => [f.id, f]));
let sentTotal = 0;
let deliveredTotal = 0;
let duplicates = 0;
for (const sender of finals) {
  for (const [to, count] of Object.entries(sender.sent)) {
    const got = byId.get(to)?.received[sender.id];
    sentTotal += count;
    deliveredTotal += got?.unique ?? 0;
    duplicates += got?.duplicates ?? 0;
  }
}
const publisher = finals.find((f) => f.index === 0);
const followers = finals.filter((f) => f.index !== 0);
const summary = {
  minutes,
  rate,
  resets,
  unicast: { sent: sentTotal, delivered: deliveredTotal, lost: sentTotal - deliveredTotal, duplicates },
  requests: finals.reduce((a, f) => ({ ok: a.ok + f.requests.ok, failed: a.failed + f.requests.failed }), {
    ok: 0,
    failed: 0,
  }),
  pubsub: {
    published: publisher?.published ?? 0,
    perFollower: followers.map((f) => ({
      subscribedFromSeq: f.events.firstSeq,
      received: f.events.received,
      missedInReportedGaps: f.events.missedInGaps,
      unaccounted:
        (publisher?.published ?? 0) -
        Math.max(0, f.events.firstSeq) -
        f.events.received -
        f.events.missedInGaps,
    })),
  },
  rssMb: { max: Math.max(...timeline.map((s) => s.rssMb)), final: finals.map((f) => f.rssMb) },
  heapMb: { first: timeline.slice(0, 3).map((s) => s.heapMb), final: finals.map((f) => f.heapMb) },
  handles: { first: timeline.slice(0, 3).map((s) => s.handles), final: finals.map((f) => f.handles) },
  timeline: timeline.map((s) => ({ index: s.index, rssMb: s.rssMb, heapMb: s.heapMb, handles: s.handles })),
};
await mkdir(new URL('../../bench/results/', import.meta.url), { recursive: true });
await writeFile(RESULTS, `${JSON.stringify(summary, null, 2)}\n`);
const { timeline: _, ...short } = summary;
log(JSON.stringify(short, null, 2));
process.exitCode = summary.unicast.lost === 0 && duplicates === 0 ? 0 : 1;
