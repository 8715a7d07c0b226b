// An engine in its own process, attached as `worker` to a node through NATS, for the
// nats-engine scenarios. Configured by NM_BENCH_ENGINE (JSON); prints one line once attached.
import { createHash } from 'node:crypto';
import { KeyPair, type NodeId } from '@netmachine/core';
import { attachEngine } from '@netmachine/nats';

interface Config {
  servers: string[];
  node: NodeId;
  seed: string;
  /** SHA-256 rounds over the body per request: the work a pool shares out. */
  work: number;
}

const config = JSON.parse(process.env.NM_BENCH_ENGINE ?? '{}') as Config;
const engine = await attachEngine({
  servers: config.servers,
  node: config.node,
  name: 'worker',
  key: KeyPair.fromSeed(Buffer.from(config.seed, 'hex')),
  mailboxSize: 4096,
  handler: (msg, ctx) => {
    let digest = msg.body as Uint8Array;
    for (let i = 0; i < config.work; i++) digest = createHash('sha256').update(digest).digest();
    ctx.reply(msg, msg.body);
  },
});
process.stdout.write(`${JSON.stringify({ attached: engine.instance })}\n`);
process.once('SIGTERM', () => {
  void engine.stop().then(() => process.exit(0));
});
