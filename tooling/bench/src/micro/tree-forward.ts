/**
 * The forwarding path of a multi-hop pub/sub node, on one core: a signed batch arrives as bytes, its
 * layout is read, its one signature is checked (one Ed25519 verification and one SHA-256 pass over the
 * batch), its tree id is derived, and it is packed into the broadcast message for the next node with
 * its bytes unchanged. Batches of 256 events of 200 B, as the adaptive signer makes under load. Rates
 * are in events per CPU-second (batches per CPU-second times the events in a batch).
 * Not a test: it reports rates, it asserts nothing.
 *
 *   node --conditions=@netmachine/source --import tsx tooling/bench/src/micro/tree-forward.ts [--quick]
 */
import { pathToFileURL } from 'node:url';
import { KeyPair, pack } from '@netmachine/core';
import { decodeTreeBatch, signTreeBatch, treeBatchId, verifyTreeBatch } from '@netmachine/pubsub';
import { FULL, type MicroResult, measure, QUICK } from './measure.js';

const BATCH = 256;
const BATCHES = 64;
const PAYLOAD_BYTES = 200;

export async function runTreeForwardMicro(options: { quick?: boolean } = {}): Promise<MicroResult[]> {
  const timing = options.quick ? QUICK : FULL;
  const key = KeyPair.generate();
  const topic = KeyPair.generate().publicKey;
  const signed = (size: number, b: number): Buffer =>
    signTreeBatch(key, {
      topic,
      epoch: 1,
      batch: b + 1,
      firstSeq: b * size + 1,
      events: Array.from({ length: size }, (_, i) => ({
        expiry: Date.now() + 60_000,
        payload: Buffer.alloc(PAYLOAD_BYTES, b * size + i),
      })),
    });
  const batches = Array.from({ length: BATCHES }, (_, b) => signed(BATCH, b));
  const singles = Array.from({ length: BATCHES }, (_, b) => signed(1, b));
  const forward = (bytes: Buffer): Uint8Array => {
    const batch = decodeTreeBatch(bytes);
    if (!verifyTreeBatch(batch)) throw new Error('a signed batch failed its check');
    return pack({ t: 'gossip', id: treeBatchId(batch), payload: batch.bytes, hops: 1 });
  };
  const perEvent = (r: MicroResult, events: number): MicroResult => ({
    ...r,
    opsPerSec: r.opsPerSec * events,
  });

  let next = 0;
  const results: MicroResult[] = [];
  results.push(
    perEvent(
      await measure(
        `tree forward: decode + signature check + id + pack (batch ${BATCH}, ${PAYLOAD_BYTES} B)`,
        () => forward(batches[next++ % BATCHES] as Buffer),
        timing,
      ),
      BATCH,
    ),
  );
  let single = 0;
  results.push(
    await measure(
      'tree forward, batch of 1 (one Ed25519 verification per event)',
      () => forward(singles[single++ % BATCHES] as Buffer),
      timing,
    ),
  );
  return results;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const quick = process.argv.includes('--quick');
  for (const r of await runTreeForwardMicro({ quick })) {
    console.log(
      `${r.name}: ${(r.opsPerSec / 1000).toFixed(1)}k events per CPU-second (median of ${r.samples})`,
    );
  }
}
