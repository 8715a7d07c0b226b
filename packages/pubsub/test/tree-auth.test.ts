import { KeyPair } from '@netmachine/core';
import { blake3 } from '@noble/hashes/blake3.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchDigest, batchDigestImplementation, batchDigestJs } from '../src/tree/batch-digest.js';
import { BatchSigner, MAX_BATCH_BYTES, type SignedBatch } from '../src/tree/batch-signer.js';
import { DeliveredBatch } from '../src/tree/delivered-batch.js';
import { MalformedTreeEventError } from '../src/tree/errors.js';
import {
  decodeTreeBatch,
  signTreeBatch,
  treeBatchId,
  type UnsignedBatch,
  verifyTreeBatch,
} from '../src/tree/tree-batch.js';

const publisher = KeyPair.generate();
const topic = KeyPair.generate().publicKey;

function unsigned(count: number, options: Partial<UnsignedBatch> = {}): UnsignedBatch {
  const firstSeq = options.firstSeq ?? 1;
  return {
    topic,
    epoch: 7,
    batch: 1,
    firstSeq,
    events: Array.from({ length: count }, (_, i) => ({
      expiry: 0,
      payload: Buffer.from(`event ${firstSeq + i}`),
    })),
    ...options,
  };
}

describe('the batch digest', () => {
  it('is BLAKE3 in derive-key mode, the same from the native and the JavaScript implementation', () => {
    expect(batchDigestImplementation).toBe('native');
    for (const size of [0, 1, 1023, 1024, 1025, 64 * 1024 + 7]) {
      const bytes = Buffer.alloc(size, size % 251);
      expect(Buffer.from(batchDigest(bytes)).equals(Buffer.from(batchDigestJs(bytes)))).toBe(true);
    }
    // The context separates it from a plain BLAKE3 of the same bytes.
    const bytes = Buffer.from('a batch');
    expect(Buffer.from(batchDigest(bytes)).equals(Buffer.from(blake3(bytes)))).toBe(false);
  });
});

describe('a batch as subscribers receive it', () => {
  const names = { topic: 'topic' as never, publisher: 'publisher' as never };

  it('walks every event in seq order, payloads as views of the batch', () => {
    const batch = decodeTreeBatch(signTreeBatch(publisher, unsigned(5, { firstSeq: 10 })));
    const view = new DeliveredBatch(batch, names.topic, names.publisher, Date.now());
    const seen: [string, number][] = [];
    view.forEach((payload, seq) => {
      seen.push([Buffer.from(payload).toString(), seq]);
    });
    expect(view.count).toBe(5);
    expect(view.expired).toBe(0);
    expect(seen).toEqual([10, 11, 12, 13, 14].map((seq) => [`event ${seq}`, seq]));
    expect([...view].map((e) => e.seq)).toEqual([10, 11, 12, 13, 14]);
  });

  it('skips and counts the events past their expiry at delivery', () => {
    const now = 1_000_000;
    const expiries = [0, now - 1, now + 1, now - 5, now];
    const batch = decodeTreeBatch(
      signTreeBatch(publisher, {
        ...unsigned(5),
        events: expiries.map((expiry, i) => ({ expiry, payload: Buffer.from([i]) })),
      }),
    );
    expect(batch.minExpiry).toBe(now - 5);
    const view = new DeliveredBatch(batch, names.topic, names.publisher, now);
    expect(view.expired).toBe(2);
    expect(view.count).toBe(3);
    const seqs: number[] = [];
    view.forEach((_payload, seq) => {
      seqs.push(seq);
    });
    expect(seqs).toEqual([1, 3, 5]);
  });
});

describe('signed batches', () => {
  it('round-trips every field; one signature covers the batch', () => {
    const bytes = signTreeBatch(publisher, unsigned(13, { batch: 4, firstSeq: 40 }));
    const batch = decodeTreeBatch(bytes);
    expect(batch.seq).toBe(4);
    expect(batch.epoch).toBe(7);
    expect(batch.count).toBe(13);
    expect(batch.expiry).toBe(0);
    expect(batch.topic.equals(topic)).toBe(true);
    expect(batch.publisher.equals(publisher.publicKey)).toBe(true);
    expect(verifyTreeBatch(batch)).toBe(true);
    const events = batch.events();
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 13 }, (_, i) => 40 + i));
    expect(events.map((e) => e.payload.toString())).toEqual(events.map((e) => `event ${e.seq}`));
  });

  it('carries each event’s expiry; the batch expires with its last live event', () => {
    const batch = decodeTreeBatch(
      signTreeBatch(publisher, {
        ...unsigned(0),
        events: [
          { expiry: 1000, payload: Buffer.from('a') },
          { expiry: 3000, payload: Buffer.from('b') },
        ],
      }),
    );
    expect(batch.events().map((e) => e.expiry)).toEqual([1000, 3000]);
    expect(batch.expiry).toBe(3000);
  });

  it('ids depend on topic, publisher, epoch and batch number only', () => {
    const a = decodeTreeBatch(signTreeBatch(publisher, unsigned(1)));
    const b = decodeTreeBatch(signTreeBatch(publisher, unsigned(3, { firstSeq: 9 })));
    expect(treeBatchId(a)).toBe(treeBatchId(b));
    const c = decodeTreeBatch(signTreeBatch(publisher, unsigned(1, { batch: 2 })));
    expect(treeBatchId(c)).not.toBe(treeBatchId(a));
    const d = decodeTreeBatch(signTreeBatch(publisher, unsigned(1, { epoch: 8 })));
    expect(treeBatchId(d)).not.toBe(treeBatchId(a));
    expect(treeBatchId({ topic, publisher: publisher.publicKey, epoch: 7, seq: 1 })).toBe(treeBatchId(a));
  });

  it('refuses a batch signed by another key claiming the publisher', () => {
    const forger = KeyPair.generate();
    const copy = Buffer.from(signTreeBatch(forger, unsigned(2)));
    copy.set(publisher.publicKey, 33);
    expect(verifyTreeBatch(decodeTreeBatch(copy))).toBe(false);
  });

  it('refuses an empty batch, a short one, and one whose lengths do not add up', () => {
    expect(() => signTreeBatch(publisher, unsigned(0))).toThrow(RangeError);
    const bytes = signTreeBatch(publisher, unsigned(3));
    expect(() => decodeTreeBatch(bytes.subarray(0, 90))).toThrow(MalformedTreeEventError);
    expect(() => decodeTreeBatch(Buffer.concat([bytes, Buffer.alloc(1)]))).toThrow(MalformedTreeEventError);
    const count = Buffer.from(bytes);
    count.writeUInt16BE(4, 83);
    expect(() => decodeTreeBatch(count)).toThrow(MalformedTreeEventError);
  });

  it('property: any single flipped bit is refused or fails to decode, never accepted', () => {
    const bytes = signTreeBatch(publisher, unsigned(5));
    fc.assert(
      fc.property(fc.nat(), fc.nat(7), (at, bit) => {
        const copy = Buffer.from(bytes);
        const offset = at % copy.length;
        copy[offset] = (copy[offset] as number) ^ (1 << bit);
        let decoded: ReturnType<typeof decodeTreeBatch>;
        try {
          decoded = decodeTreeBatch(copy);
        } catch (error) {
          expect(error).toBeInstanceOf(MalformedTreeEventError);
          return;
        }
        expect(verifyTreeBatch(decoded)).toBe(false);
      }),
      { numRuns: 400 },
    );
  });

  it('property: any batch round-trips and verifies', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { minLength: 1, maxLength: 40 }), (payloads) => {
        const batch = decodeTreeBatch(
          signTreeBatch(publisher, {
            ...unsigned(0),
            events: payloads.map((p) => ({ expiry: 0, payload: p })),
          }),
        );
        expect(verifyTreeBatch(batch)).toBe(true);
        expect(batch.events().map((e) => [...e.payload])).toEqual(payloads.map((p) => [...p]));
      }),
      { numRuns: 60 },
    );
  });
});

describe('BatchSigner', () => {
  const event = (n: number) => ({ expiry: 0, payload: Buffer.from(`event ${n}`) });
  const stream = { topic, epoch: 7 };

  it('signs what one turn added as one batch, and a single event alone', async () => {
    const batches: SignedBatch[] = [];
    const signer = new BatchSigner({
      key: publisher,
      emit: (b) => batches.push(b),
      maxBatch: 64,
      lingerMs: 0,
    });
    signer.add(stream, 1, event(1));
    await new Promise((r) => setImmediate(r));
    for (let i = 2; i <= 101; i++) signer.add(stream, i, event(i));
    await new Promise((r) => setImmediate(r));
    expect(batches.map((b) => [b.batch, b.firstSeq, b.count])).toEqual([
      [1, 1, 1],
      [2, 2, 64],
      [3, 66, 36],
    ]);
    const seqs = batches.flatMap((b) =>
      decodeTreeBatch(b.bytes)
        .events()
        .map((e) => e.seq),
    );
    expect(seqs).toEqual(Array.from({ length: 101 }, (_, i) => i + 1));
    expect(signer.pending).toBe(0);
  });

  it("keeps a busy stream's batch open across turns until it is full or its linger ends; a quiet one is signed at once", async () => {
    const batches: SignedBatch[] = [];
    let clock = 0;
    const delays: { ms: number; look: () => void }[] = [];
    const signer = new BatchSigner({
      key: publisher,
      emit: (b) => batches.push(b),
      maxBatch: 64,
      lingerMs: 8,
      now: () => clock,
      delay: (ms, look) => delays.push({ ms, look }),
    });
    const turn = () => new Promise((r) => setImmediate(r));
    const counts = () => batches.map((b) => [b.firstSeq, b.count]);
    signer.add(stream, 1, event(1));
    await turn();
    expect(counts()).toEqual([[1, 1]]); // quiet: at the end of its turn
    // The turn after: the stream goes on publishing, so it is busy and its batch stays open.
    for (let i = 2; i <= 11; i++) signer.add(stream, i, event(i));
    await turn();
    for (let i = 12; i <= 21; i++) signer.add(stream, i, event(i));
    await turn();
    // Turns that add nothing (I/O between the publisher's turns) leave it open: one look waits out
    // the rest of its linger instead of one per turn.
    clock += 3;
    for (let r = 0; r < 5; r++) await turn();
    expect(counts()).toEqual([[1, 1]]);
    expect(delays.map((d) => d.ms)).toEqual([5]);
    // Events added meanwhile join it, and their turn is looked at again.
    for (let i = 22; i <= 31; i++) signer.add(stream, i, event(i));
    await turn();
    await turn();
    expect(counts()).toEqual([[1, 1]]);
    clock += 5;
    for (const d of delays.splice(0)) d.look();
    expect(counts()).toEqual([
      [1, 1],
      [2, 30],
    ]);
    // Busy again: a batch that fills is signed at once.
    for (let i = 32; i <= 95; i++) signer.add(stream, i, event(i));
    expect(counts().at(-1)).toEqual([32, 64]);
    // The publisher stops: what it added last goes out when its linger ends.
    for (let i = 96; i <= 97; i++) signer.add(stream, i, event(i));
    await turn();
    await turn();
    expect(signer.pending).toBe(2);
    clock += 8;
    for (const d of delays.splice(0)) d.look();
    expect(counts().at(-1)).toEqual([96, 2]);
    // Quiet for a while: the next event goes alone at the end of its turn.
    await turn();
    await turn();
    clock += 100;
    signer.add(stream, 98, event(98));
    await turn();
    expect(counts().at(-1)).toEqual([98, 1]);
    expect(signer.pending).toBe(0);
  });

  it('takes a stream whose batch just filled for a busy one: the batch it starts next turn stays open', async () => {
    const batches: SignedBatch[] = [];
    const signer = new BatchSigner({
      key: publisher,
      emit: (b) => batches.push(b),
      maxBatch: 4,
      lingerMs: 60_000,
      delay: () => {},
    });
    const turn = () => new Promise((r) => setImmediate(r));
    // A sender that yields after every maxBatch events fills a batch exactly at the end of each turn.
    for (let i = 1; i <= 4; i++) signer.add(stream, i, event(i));
    await turn();
    for (let i = 5; i <= 6; i++) signer.add(stream, i, event(i));
    await turn();
    await turn();
    expect(batches.map((b) => [b.firstSeq, b.count])).toEqual([[1, 4]]);
    for (let i = 7; i <= 8; i++) signer.add(stream, i, event(i));
    expect(batches.map((b) => [b.firstSeq, b.count])).toEqual([
      [1, 4],
      [5, 4],
    ]);
  });

  it("signs the first event of an idle stream at the end of its turn, even while another stream's batch is held", async () => {
    const batches: SignedBatch[] = [];
    const delays: (() => void)[] = [];
    const signer = new BatchSigner({
      key: publisher,
      emit: (b) => batches.push(b),
      lingerMs: 60_000,
      delay: (_ms, look) => delays.push(look),
    });
    const turn = () => new Promise((r) => setImmediate(r));
    const busy = { topic, epoch: 1 };
    const quiet = { topic, epoch: 2 };
    signer.add(busy, 1, event(1));
    await turn();
    signer.add(busy, 2, event(2));
    await turn();
    await turn();
    expect(batches.map((b) => [b.epoch, b.firstSeq, b.count])).toEqual([[1, 1, 1]]);
    expect(delays.length).toBe(1); // the busy stream's batch (seq 2) waits for its linger
    signer.add(quiet, 1, event(1));
    await turn();
    expect(batches.map((b) => [b.epoch, b.firstSeq, b.count])).toEqual([
      [1, 1, 1],
      [2, 1, 1],
    ]);
    expect(signer.pending).toBe(1);
    signer.flush();
    expect(batches.at(-1)?.epoch).toBe(1);
    expect(signer.pending).toBe(0);
  });

  it('keeps topics (and epochs) in batches of their own, each numbered from 1', async () => {
    const other = KeyPair.generate().publicKey;
    const batches: SignedBatch[] = [];
    const signer = new BatchSigner({ key: publisher, emit: (b) => batches.push(b) });
    signer.add(stream, 1, event(1));
    signer.add({ topic: other, epoch: 7 }, 1, event(1));
    signer.add(stream, 2, event(2));
    signer.add({ topic, epoch: 8 }, 1, event(1));
    signer.flush();
    expect(batches.map((b) => [Buffer.from(b.topic).equals(topic), b.epoch, b.batch, b.count])).toEqual([
      [true, 7, 1, 2],
      [false, 7, 1, 1],
      [true, 8, 1, 1],
    ]);
  });

  it('starts a new batch before one would outgrow a PlumTree message', () => {
    const batches: SignedBatch[] = [];
    const signer = new BatchSigner({ key: publisher, emit: (b) => batches.push(b) });
    const big = Buffer.alloc(80 * 1024);
    for (let i = 1; i <= 4; i++) signer.add(stream, i, { expiry: 0, payload: big });
    // An event larger than the limit still goes out, alone.
    signer.add(stream, 5, { expiry: 0, payload: Buffer.alloc(MAX_BATCH_BYTES + 1) });
    signer.flush();
    expect(batches.map((b) => b.count)).toEqual([3, 1, 1]);
    expect(batches.map((b) => b.firstSeq)).toEqual([1, 4, 5]);
    for (const b of batches.slice(0, 2)) expect(b.bytes.length).toBeLessThanOrEqual(MAX_BATCH_BYTES + 200);
  });
});
