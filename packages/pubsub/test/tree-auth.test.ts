import { KeyPair } from '@netmachine/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchSigner, signBatch, type UnsignedEvent } from '../src/tree/batch-signer.js';
import { BatchVerifier } from '../src/tree/batch-verifier.js';
import { MalformedTreeEventError } from '../src/tree/errors.js';
import { buildLevels, leafHash, pathLength, pathOf, walkPath } from '../src/tree/merkle.js';
import { decodeTreeEvent, treeEventId } from '../src/tree/tree-event.js';

const publisher = KeyPair.generate();
const topic = KeyPair.generate().publicKey;

const unsigned = (seq: number, payload = Buffer.from(`event ${seq}`)): UnsignedEvent => ({
  topic,
  epoch: 7,
  seq,
  expiry: 0,
  payload,
});

function batch(size: number, key = publisher): Buffer[] {
  return signBatch(
    key,
    Array.from({ length: size }, (_, i) => unsigned(i + 1)),
  );
}

describe('Merkle paths', () => {
  it('every leaf of every batch size up to 70 climbs to the root', () => {
    for (let size = 1; size <= 70; size++) {
      const leaves = Array.from({ length: size }, (_, i) => leafHash(Buffer.from([i])));
      const levels = buildLevels(leaves);
      const root = levels.at(-1)?.[0];
      for (let i = 0; i < size; i++) {
        const path = pathOf(levels, i);
        expect(path.length).toBe(pathLength(i, size) * 32);
        expect(walkPath(leaves[i] as Buffer, i, size, path)?.equals(root as Buffer)).toBe(true);
      }
    }
  });
});

describe('batch-authenticated events', () => {
  it('round-trips every field and verifies each event of a batch alone', () => {
    const events = batch(13);
    for (const [i, bytes] of events.entries()) {
      const e = decodeTreeEvent(bytes);
      expect(e.seq).toBe(i + 1);
      expect(e.epoch).toBe(7);
      expect(e.size).toBe(13);
      expect(e.index).toBe(i);
      expect(Buffer.from(e.topic).equals(topic)).toBe(true);
      expect(Buffer.from(e.publisher).equals(publisher.publicKey)).toBe(true);
      expect(e.payload.toString()).toBe(`event ${i + 1}`);
      expect(new BatchVerifier().check(e)).toBe('ok');
    }
  });

  it('pays one signature check per batch on a forwarding node', () => {
    const verifier = new BatchVerifier();
    for (let b = 0; b < 3; b++) {
      for (const bytes of batch(100)) expect(verifier.check(decodeTreeEvent(bytes))).toBe('ok');
    }
    // The three batches have the same contents, hence the same root and signature: one check.
    expect(verifier.signatureChecks).toBe(1);
    const other = signBatch(publisher, [unsigned(500), unsigned(501)]);
    for (const bytes of other) verifier.check(decodeTreeEvent(bytes));
    expect(verifier.signatureChecks).toBe(2);
    expect(verifier.cacheHits).toBe(300 + 1 - 1);
  });

  it('ids depend on topic, publisher, epoch and seq only', () => {
    const [a] = batch(1);
    const [b] = signBatch(publisher, [unsigned(1, Buffer.from('other payload'))]);
    expect(treeEventId(decodeTreeEvent(a as Buffer))).toBe(treeEventId(decodeTreeEvent(b as Buffer)));
    expect(treeEventId(decodeTreeEvent(batch(2)[1] as Buffer))).not.toBe(
      treeEventId(decodeTreeEvent(a as Buffer)),
    );
  });

  it('refuses an event signed by another key claiming the publisher', () => {
    const forger = KeyPair.generate();
    const [bytes] = signBatch(forger, [unsigned(1)]);
    const copy = Buffer.from(bytes as Buffer);
    copy.set(publisher.publicKey, 33);
    expect(new BatchVerifier().check(decodeTreeEvent(copy))).toBe('bad-signature');
  });

  it('refuses a leaf of a remembered batch whose publisher field was changed', () => {
    const verifier = new BatchVerifier();
    const events = batch(4);
    expect(verifier.check(decodeTreeEvent(events[0] as Buffer))).toBe('ok');
    const copy = Buffer.from(events[1] as Buffer);
    copy.set(KeyPair.generate().publicKey, 33);
    expect(verifier.check(decodeTreeEvent(copy))).toBe('bad-signature');
  });

  it('refuses a proven leaf whose upper path was rewritten (it would not verify downstream)', () => {
    const verifier = new BatchVerifier();
    const events = batch(8);
    expect(verifier.check(decodeTreeEvent(events[0] as Buffer))).toBe('ok');
    const copy = Buffer.from(events[1] as Buffer);
    copy[copy.length - 1] = (copy[copy.length - 1] as number) ^ 1;
    expect(verifier.check(decodeTreeEvent(copy))).toBe('bad-path');
    expect(verifier.check(decodeTreeEvent(events[1] as Buffer))).toBe('ok');
  });

  it('keeps its memory bounded', () => {
    const verifier = new BatchVerifier({ maxNodes: 100 });
    for (let b = 0; b < 20; b++) {
      const events = signBatch(
        publisher,
        Array.from({ length: 8 }, (_, i) => unsigned(b * 8 + i + 1)),
      );
      for (const bytes of events) expect(verifier.check(decodeTreeEvent(bytes))).toBe('ok');
    }
    expect(verifier.batches).toBeLessThanOrEqual(100 / 8 + 1);
  });

  it('property: any single flipped bit is refused or fails to decode, never accepted', () => {
    const events = batch(5);
    fc.assert(
      fc.property(fc.nat(4), fc.nat(), fc.nat(7), fc.boolean(), (which, at, bit, warm) => {
        const original = events[which] as Buffer;
        const copy = Buffer.from(original);
        const offset = at % copy.length;
        copy[offset] = (copy[offset] as number) ^ (1 << bit);
        const verifier = new BatchVerifier();
        // A warm cache (another event of the batch proven first) must refuse just as a cold one does.
        if (warm) verifier.check(decodeTreeEvent(events[(which + 1) % 5] as Buffer));
        let decoded: ReturnType<typeof decodeTreeEvent>;
        try {
          decoded = decodeTreeEvent(copy);
        } catch (error) {
          expect(error).toBeInstanceOf(MalformedTreeEventError);
          return;
        }
        expect(verifier.check(decoded)).not.toBe('ok');
      }),
      { numRuns: 400 },
    );
  });

  it('property: every event of any batch verifies, in any order, with a warm or cold cache', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { minLength: 1, maxLength: 40 }),
        fc.infiniteStream(fc.nat()),
        (payloads, order) => {
          const events = signBatch(
            publisher,
            payloads.map((p, i) => unsigned(i + 1, Buffer.from(p))),
          );
          const shuffled = [...events];
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = (order.next().value as number) % (i + 1);
            [shuffled[i], shuffled[j]] = [shuffled[j] as Buffer, shuffled[i] as Buffer];
          }
          const verifier = new BatchVerifier();
          for (const bytes of shuffled) expect(verifier.check(decodeTreeEvent(bytes))).toBe('ok');
          expect(verifier.signatureChecks).toBe(1);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('BatchSigner', () => {
  it('signs what one turn added as one batch, and a single event alone', async () => {
    const batches: Buffer[][] = [];
    const signer = new BatchSigner({ key: publisher, emit: (b) => batches.push(b), maxBatch: 64 });
    signer.add(unsigned(1));
    await new Promise((r) => setImmediate(r));
    for (let i = 2; i <= 101; i++) signer.add(unsigned(i));
    await new Promise((r) => setImmediate(r));
    expect(batches.map((b) => b.length)).toEqual([1, 64, 36]);
    expect(batches.flat().map((b) => decodeTreeEvent(b).seq)).toEqual(
      Array.from({ length: 101 }, (_, i) => i + 1),
    );
    expect(signer.pending).toBe(0);
  });
});
