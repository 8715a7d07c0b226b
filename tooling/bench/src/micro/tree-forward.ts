/**
 * The forwarding path of a multi-hop pub/sub node, on one core: an event arrives as bytes, its layout
 * is read, it is checked against its batch signature (one Ed25519 verification per batch, a cache of
 * proven tree nodes for the rest), its tree id is derived, and it is packed again into the broadcast
 * message that goes to the next node. Batches of 256 events of 200 B, as an adaptive signer makes under
 * load; every batch is new to the verifier (a fresh cache per pass), so the signature cost is counted.
 * Not a test: it reports rates, it asserts nothing.
 *
 *   node --conditions=@netmachine/source --import tsx tooling/bench/src/micro/tree-forward.ts [--quick]
 */
import { pathToFileURL } from 'node:url';
import { KeyPair, pack, verifySignature } from '@netmachine/core';
import { BatchVerifier, decodeTreeEvent, signBatch, treeEventId } from '@netmachine/pubsub';
import { FULL, type MicroResult, measure, QUICK } from './measure.js';

const BATCH = 256;
const BATCHES = 64;
const PAYLOAD_BYTES = 200;

export async function runTreeForwardMicro(options: { quick?: boolean } = {}): Promise<MicroResult[]> {
  const timing = options.quick ? QUICK : FULL;
  const key = KeyPair.generate();
  const topic = KeyPair.generate().publicKey;
  const events: Buffer[] = [];
  for (let b = 0; b < BATCHES; b++) {
    const batch = Array.from({ length: BATCH }, (_, i) => ({
      topic,
      epoch: 1,
      seq: b * BATCH + i + 1,
      expiry: Date.now() + 60_000,
      payload: Buffer.alloc(PAYLOAD_BYTES, b * BATCH + i),
    }));
    events.push(...signBatch(key, batch));
  }
  const results: MicroResult[] = [];

  let verifier = new BatchVerifier();
  let next = 0;
  results.push(
    await measure(
      `tree forward: decode + batch check + id + re-encode (batch ${BATCH}, ${PAYLOAD_BYTES} B)`,
      () => {
        if (next === events.length) {
          next = 0;
          verifier = new BatchVerifier();
        }
        const event = decodeTreeEvent(events[next++] as Buffer);
        if (verifier.check(event) !== 'ok') throw new Error('a signed event failed its check');
        return pack({ t: 'gossip', id: treeEventId(event), payload: event.bytes, hops: 1 });
      },
      timing,
    ),
  );

  let coldNext = 0;
  results.push(
    await measure(
      'tree forward, batch of 1 (one Ed25519 verification per event)',
      () => {
        const event = decodeTreeEvent(events[coldNext++ % events.length] as Buffer);
        const cold = new BatchVerifier();
        return cold.check(event);
      },
      timing,
    ),
  );
  const verifyKey = events[0] as Buffer;
  const first = decodeTreeEvent(verifyKey);
  const signedRoot = Buffer.alloc(64, 1);
  results.push(
    await measure(
      'reference: one Ed25519 verification (node:crypto)',
      () => verifySignature(first.publisher, signedRoot, first.signature),
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
