import { type EngineMessage, FrameTooLargeError, markBytesImmutable } from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import { FRAME_HEADER_BYTES, FrameSlab } from '../../src/wire/index.js';
import { decodeMessageBody } from '../../src/wire/message-frame.js';
import { SPLICE_MIN_BYTES } from '../../src/wire/msgpack-writer.js';
import { SlabPool } from '../../src/wire/slab-pool.js';
import { plainMessage } from './slab-fixtures.js';

const MAX = 1 << 20;

/** A byte array whose every byte is `fill`. */
function bytes(length: number, fill: number): Uint8Array {
  return new Uint8Array(length).fill(fill);
}

/** A PlumTree-shaped message: a plain object body with a payload inside. */
function gossip(id: number, payload: Uint8Array): EngineMessage {
  return { ...plainMessage, id, body: { type: 'gossip', id: `p/${id}`, payload, hops: 1 } };
}

/** The frames the parts carry (joined, then cut at each frame's length). */
function framesOf(parts: readonly Buffer[]): Buffer[] {
  const all = Buffer.concat(parts);
  const frames: Buffer[] = [];
  let at = 0;
  while (at < all.length) {
    const length = all.readUInt32BE(at);
    frames.push(all.subarray(at, at + 4 + length));
    at += 4 + length;
  }
  expect(at).toBe(all.length);
  return frames;
}

/** What a slab that never splices writes for the same messages. */
function copied(messages: readonly EngineMessage[]): Buffer {
  const slab = new FrameSlab();
  for (const message of messages) slab.appendMessage(message, MAX);
  return Buffer.concat(slab.takeParts());
}

describe('FrameSlab splicing immutable byte arrays', () => {
  it('writes a large immutable array as its own part, the frame byte for byte as a copy would be', () => {
    const payload = markBytesImmutable(bytes(SPLICE_MIN_BYTES * 4, 7));
    const messages = [{ ...plainMessage, id: 1 }, gossip(2, payload), { ...plainMessage, id: 3 }];
    const slab = new FrameSlab(64 * 1024, undefined, true);
    let written = 0;
    for (const message of messages) written += slab.appendMessage(message, MAX);
    expect(slab.pendingBytes).toBe(written);
    const parts = slab.takeParts();
    // Before the array, the array itself (the same memory: not a copy), after it.
    expect(parts).toHaveLength(3);
    expect(parts[1]!.buffer).toBe(payload.buffer);
    expect(parts[1]!.length).toBe(payload.length);
    expect(Buffer.concat(parts).equals(copied(messages))).toBe(true);
    const bodies = framesOf(parts).map((frame) => decodeMessageBody(frame.subarray(FRAME_HEADER_BYTES)).body);
    expect(bodies[1]).toMatchObject({ type: 'gossip', id: 'p/2', hops: 1 });
    expect(Buffer.from((bodies[1] as { payload: Uint8Array }).payload).equals(Buffer.from(payload))).toBe(
      true,
    );
  });

  it('splices a byte-array body too, and the same array into several slabs (one per link)', () => {
    const payload = markBytesImmutable(Buffer.alloc(SPLICE_MIN_BYTES, 3));
    const message = { ...plainMessage, body: payload };
    const links = [0, 1, 2].map(() => new FrameSlab(64 * 1024, undefined, true));
    for (const slab of links) slab.appendMessage(message, MAX);
    for (const slab of links) {
      const parts = slab.takeParts();
      expect(parts[1]).toBe(payload);
      expect(Buffer.concat(parts).equals(copied([message]))).toBe(true);
    }
  });

  it('copies arrays that are not marked, are small, or go to a slab that does not splice', () => {
    const large = bytes(SPLICE_MIN_BYTES * 2, 1);
    const small = markBytesImmutable(bytes(SPLICE_MIN_BYTES - 1, 2));
    const marked = markBytesImmutable(bytes(SPLICE_MIN_BYTES * 2, 3));
    const splicing = new FrameSlab(64 * 1024, undefined, true);
    splicing.appendMessage(gossip(1, large), MAX);
    splicing.appendMessage(gossip(2, small), MAX);
    const spliced = splicing.takeParts();
    for (const part of spliced) expect([large.buffer, small.buffer]).not.toContain(part.buffer);
    expect(Buffer.concat(spliced).equals(copied([gossip(1, large), gossip(2, small)]))).toBe(true);
    // A relay's batch or a first flight: a frame is never split between parts.
    const plain = new FrameSlab(64 * 1024);
    plain.appendMessage(gossip(3, marked), MAX);
    const parts = plain.takeParts();
    expect(parts).toHaveLength(1);
    expect(parts[0]!.buffer).not.toBe(marked.buffer);
  });

  it('appends nothing when a spliced frame turns out too large', () => {
    const payload = markBytesImmutable(bytes(SPLICE_MIN_BYTES * 2, 9));
    const slab = new FrameSlab(64 * 1024, undefined, true);
    slab.appendMessage({ ...plainMessage, id: 1 }, MAX);
    const before = slab.pendingBytes;
    expect(() => slab.appendMessage(gossip(2, payload), SPLICE_MIN_BYTES)).toThrow(FrameTooLargeError);
    expect(slab.pendingBytes).toBe(before);
    slab.appendMessage({ ...plainMessage, id: 3 }, MAX);
    expect(
      Buffer.concat(slab.takeParts()).equals(
        copied([
          { ...plainMessage, id: 1 },
          { ...plainMessage, id: 3 },
        ]),
      ),
    ).toBe(true);
  });

  it('gives a pooled slab back only once every part cut from it is released', () => {
    const pool = new SlabPool();
    const payload = markBytesImmutable(bytes(SPLICE_MIN_BYTES * 2, 5));
    const slab = new FrameSlab(4096, pool, true);
    slab.appendMessage(gossip(1, payload), MAX);
    slab.appendMessage(gossip(2, payload), MAX);
    const parts = slab.takeParts();
    // One slab, cut around the array twice: before, array, between, array, after.
    expect(parts).toHaveLength(5);
    expect(pool.stats().allocated).toBe(1);
    // The slab is full enough to be let go by the writer; its three parts are still out.
    slab.appendFrame(Buffer.alloc(4000));
    const own = parts.filter((part) => part.buffer !== payload.buffer);
    expect(own).toHaveLength(3);
    // Releasing a spliced array does nothing: it is not the slab's.
    for (const part of parts) if (part.buffer === payload.buffer) slab.releasePart(part);
    for (const part of own.slice(0, 2)) slab.releasePart(part);
    expect(pool.stats().recycled).toBe(0);
    slab.releasePart(own[2]!);
    expect(pool.stats().recycled).toBe(1);
  });
});
