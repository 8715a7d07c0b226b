/**
 * What one lone seal and one open cost as a relayed request meets them: each after a turn of the
 * event loop and with the caches cold (16 MiB touched first, as other processes would leave them),
 * the time of `RelaySealer.sealRecords` and of `RelayOpener.openPlaintext` + `recordBounds` for a
 * 290-byte message, with the next counter's cipher made ahead (the default) and without. `--hot`
 * leaves the caches alone.
 * Usage: `pnpm bench:seal-cold [-- --hot --messages 4000]`.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { KeyPair, type NodeId } from '@netmachine/core';
import { RelayOpener, RelaySealer, recordBounds } from '@netmachine/relay';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: { hot: { type: 'boolean', default: false }, messages: { type: 'string', default: '4000' } },
});
const messages = Number(values.messages);
const WARMUP = Math.floor(messages / 4);

const alice = KeyPair.generate();
const carol = KeyPair.generate();
const inner = randomBytes(290);
const record = Buffer.alloc(4 + inner.length);
record.writeUInt32BE(inner.length, 0);
inner.copy(record, 4);
const thrash = Buffer.alloc(16 << 20);

function coldCaches(): void {
  if (values.hot) return;
  for (let i = 0; i < thrash.length; i += 64) thrash[i] = (thrash[i] as number) + 1;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const median = (xs: number[]): number => {
  const sorted = xs.slice(WARMUP).sort((a, b) => a - b);
  return (sorted[Math.floor(sorted.length / 2)] as number) / 1000;
};

for (const prepareAhead of [true, false]) {
  const sealer = new RelaySealer(alice, { prepareAhead });
  const opener = new RelayOpener(carol, { prepareAhead });
  const seal: number[] = [];
  const open: number[] = [];
  for (let i = 0; i < messages; i++) {
    const expiry = Date.now() + 10_000;
    await turn();
    coldCaches();
    let startedAt = process.hrtime.bigint();
    const sealed = sealer.sealRecords(carol.id as NodeId, [record], expiry);
    seal.push(Number(process.hrtime.bigint() - startedAt));
    await turn();
    coldCaches();
    startedAt = process.hrtime.bigint();
    recordBounds(opener.openPlaintext(alice.id as NodeId, sealed, expiry));
    open.push(Number(process.hrtime.bigint() - startedAt));
  }
  console.log(
    `${values.hot ? 'hot ' : 'cold'} prepareAhead ${String(prepareAhead).padEnd(5)} seal p50 ${median(seal).toFixed(2)} µs  open p50 ${median(open).toFixed(2)} µs`,
  );
}
