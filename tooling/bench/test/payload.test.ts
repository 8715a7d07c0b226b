import { describe, expect, it } from 'vitest';
import {
  DeliveryCounter,
  FrameSplitter,
  frame,
  makePayload,
  PAYLOAD_BYTES,
  payloadIntact,
  payloadSentAtNs,
  payloadSeq,
} from '../src/payload.js';

describe('payload', () => {
  it('carries its sequence number and send time and passes its own check', () => {
    const payload = makePayload(123_456, 987_654_321n);
    expect(payload.length).toBe(PAYLOAD_BYTES);
    expect(payloadSeq(payload)).toBe(123_456);
    expect(payloadSentAtNs(payload)).toBe(987_654_321n);
    expect(payloadIntact(payload)).toBe(true);
  });

  it('fails the check when a sampled byte is corrupted or the length is wrong', () => {
    const payload = makePayload(7);
    payload[100] = payload[100]! ^ 0xff;
    expect(payloadIntact(payload)).toBe(false);
    expect(payloadIntact(makePayload(7).subarray(0, 199))).toBe(false);
  });
});

describe('DeliveryCounter', () => {
  it('counts in-order intact deliveries and flags reordering and corruption as bad', () => {
    const counter = new DeliveryCounter(0);
    counter.deliver(makePayload(0));
    counter.deliver(makePayload(1));
    counter.deliver(makePayload(3)); // 2 missing: out of order
    counter.deliver(makePayload(4));
    const corrupt = makePayload(5);
    corrupt[199] = 0;
    counter.deliver(corrupt);
    expect(counter.received).toBe(3);
    expect(counter.bad).toBe(2);
  });

  it('measures a rate once enough messages arrived after the warm-up', () => {
    const counter = new DeliveryCounter(0);
    const start = performance.now();
    let seq = 0;
    // Deliver until the clock has visibly moved past several samples (every 64 messages).
    while (performance.now() - start < 20) counter.deliver(makePayload(seq++));
    for (let i = 0; i < 256; i++) counter.deliver(makePayload(seq++));
    const report = counter.report();
    expect(report.received).toBe(seq);
    expect(report.bad).toBe(0);
    expect(report.msgsPerSec).toBeGreaterThan(0);
  });
});

describe('FrameSplitter', () => {
  it('reassembles frames split across chunks at every position', () => {
    const payloads = [makePayload(0), makePayload(1), makePayload(2)];
    const stream = Buffer.concat(payloads.map((payload) => frame(payload)));
    for (let cut = 1; cut < stream.length; cut += 7) {
      const seen: number[] = [];
      const splitter = new FrameSplitter((frameBody) => {
        expect(payloadIntact(frameBody)).toBe(true);
        seen.push(payloadSeq(frameBody));
      });
      splitter.push(stream.subarray(0, cut));
      splitter.push(stream.subarray(cut));
      expect(seen).toEqual([0, 1, 2]);
    }
  });

  it('refuses a frame larger than its limit before buffering it', () => {
    const splitter = new FrameSplitter(() => {}, 1024);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1 << 30, 0);
    expect(() => splitter.push(header)).toThrow(/exceeds/);
  });
});
