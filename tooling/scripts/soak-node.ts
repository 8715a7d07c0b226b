/**
 * One node of the soak run, in its own process (see soak.ts). Sends numbered messages to every
 * other node's `sink`, asks their `echo`, and (node 0) publishes to a topic the others follow.
 * Reads commands on stdin (`reset`, `finish`); writes JSON lines (`ready`, `stats`, `final`) on stdout.
 */

import { createNode } from '../../apps/node/src/node.js';
import { KeyPair, type NodeId } from '../../packages/core/src/index.js';
import { pubsub } from '../../packages/pubsub/src/index.js';

interface Spec {
  index: number;
  seeds: string[];
  addrs: string[];
  adverts: string[];
  topicSeed: string;
  /** Messages per second to each other node (and events per second, on node 0). */
  rate: number;
}

const spec = JSON.parse(process.env.NM_SOAK ?? '{}') as Spec;
const keys = spec.seeds.map((s) => KeyPair.fromSeed(Buffer.from(s, 'hex')));
const self = keys[spec.index] as KeyPair;
const others = keys.filter((_, i) => i !== spec.index).map((k) => k.id);
const topic = KeyPair.fromSeed(Buffer.from(spec.topicSeed, 'hex')).topicId;
const emit = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

const node = await createNode({
  keyPair: self,
  config: {
    listen: [spec.addrs[spec.index] as string],
    transports: ['tls'],
    metrics: false,
    peers: spec.adverts.filter((_, i) => i !== spec.index).map((advert) => ({ advert, permanent: true })),
  },
  services: { pubsub: pubsub() },
});
await node.start();

// What arrived, per source node: seen sequence numbers, duplicates.
const received = new Map<string, { seen: Set<number>; duplicates: number }>();
node.spawn(
  'sink',
  (m) => {
    const from = m.src.node as string;
    let entry = received.get(from);
    if (!entry) {
      entry = { seen: new Set(), duplicates: 0 };
      received.set(from, entry);
    }
    const seq = (m.body as { seq: number }).seq;
    if (entry.seen.has(seq)) entry.duplicates++;
    else entry.seen.add(seq);
  },
  { mailboxSize: 65_536, mailboxPolicy: 'wait' },
);
node.spawn('echo', (m, ctx) => ctx.reply(m, m.body));

const events = { received: 0, gapsReported: 0, missedInGaps: 0, firstSeq: -1 };
node.services.pubsub.onEvent((e) => {
  if (e.type === 'topic:gap') {
    events.gapsReported++;
    events.missedInGaps += e.to - e.from + 1;
  }
});
const publisher = node.client('publisher');
if (spec.index === 0) {
  node.services.pubsub.createTopic({
    topicKey: KeyPair.fromSeed(Buffer.from(spec.topicSeed, 'hex')),
    publisher: 'publisher',
  });
} else {
  node
    .client('follower', (m) => {
      // Events published before this node's subscription took effect were never owed to it.
      if (events.firstSeq < 0) events.firstSeq = (m.body as { seq: number }).seq;
      events.received++;
    })
    .subscribe(topic);
}

const sent: Record<string, number> = Object.fromEntries(others.map((n) => [n, 0]));
const requests = { ok: 0, failed: 0 };
let published = 0;
const client = node.client('generator');
const perTick = Math.max(1, Math.round(spec.rate / 100));
const generating = setInterval(() => {
  for (const peer of others) {
    for (let i = 0; i < perTick; i++) {
      client.send({ node: peer, name: 'sink' }, { seq: sent[peer] }, { ttlMs: 120_000 });
      sent[peer] = (sent[peer] as number) + 1;
    }
  }
  if (spec.index === 0) {
    for (let i = 0; i < perTick; i++) {
      try {
        publisher.publish(topic, { seq: published });
        published++;
      } catch {
        // Not yet known to the router: counted as not published.
      }
    }
  }
}, 10);
let asked = 0;
const asking = setInterval(() => {
  const peer = others[asked++ % others.length] as NodeId;
  client.request({ node: peer, name: 'echo' }, asked, { timeoutMs: 10_000 }).then(
    () => requests.ok++,
    () => requests.failed++,
  );
}, 100);

function stats(type: 'stats' | 'final') {
  const memory = process.memoryUsage();
  emit({
    type,
    index: spec.index,
    id: self.id,
    sent,
    received: Object.fromEntries(
      [...received].map(([from, r]) => [from, { unique: r.seen.size, duplicates: r.duplicates }]),
    ),
    requests,
    published,
    events,
    rssMb: Math.round(memory.rss / 2 ** 20),
    heapMb: Math.round(memory.heapUsed / 2 ** 20),
    handles: process.getActiveResourcesInfo().length,
    connections: node.transport.connectedNodes().length,
    queued: node.transport.counters().queuedTotal,
  });
}
const reporting = setInterval(() => stats('stats'), 5000);
emit({ type: 'ready', index: spec.index, id: self.id });

let input = '';
process.stdin.setEncoding('utf8').on('data', async (chunk: string) => {
  input += chunk;
  let nl = input.indexOf('\n');
  while (nl >= 0) {
    const command = input.slice(0, nl).trim();
    input = input.slice(nl + 1);
    nl = input.indexOf('\n');
    if (command === 'reset') {
      // A connection reset: close every link (flushing what was written) and bring it back.
      for (const peer of others) {
        await node.transport.disconnect(peer);
        node.transport.connect(peer, { permanent: true }).catch(() => {});
      }
    } else if (command === 'finish') {
      clearInterval(generating);
      clearInterval(asking);
      clearInterval(reporting);
      // Drain: wait until nothing is queued for other nodes, then let in-flight messages land.
      for (let i = 0; i < 600 && node.transport.counters().queuedTotal > 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await new Promise((resolve) => setTimeout(resolve, 5000));
      stats('final');
      await node.stop();
      process.exit(0);
    }
  }
});
