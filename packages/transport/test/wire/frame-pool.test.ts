import { randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { encodeRawFrame, FrameDecoder, FramePool, MIN_POOLED_FRAME_BYTES } from '../../src/wire/index.js';

/** A frame size that goes to the list of large buffers. */
const LARGE = 256 * 1024;

interface Read {
  readonly tag: number;
  /** A view of the buffer the decoder read the frame into (not a copy). */
  readonly body: Buffer;
  readonly release: (() => void) | undefined;
}

/** A pooled decoder that keeps views of what it read, fed in pieces the size of TLS records. */
function pooledReader(pool: FramePool): { decoder: FrameDecoder; reads: Read[]; feed(frame: Buffer): void } {
  const reads: Read[] = [];
  const decoder = FrameDecoder.ofSpans(
    (tag, buffer, start, end, release) => reads.push({ tag, body: buffer.subarray(start, end), release }),
    undefined,
    pool,
  );
  const feed = (frame: Buffer) => {
    for (let at = 0; at < frame.length; at += 16 * 1024) decoder.push(frame.subarray(at, at + 16 * 1024));
  };
  return { decoder, reads, feed };
}

describe('FramePool with the frame decoder', () => {
  it('reads a large frame into a pooled buffer and hands that buffer out again once released', () => {
    const pool = new FramePool();
    const { reads, feed } = pooledReader(pool);
    const first = randomBytes(LARGE + 100);
    const second = randomBytes(LARGE + 50);
    feed(encodeRawFrame(3, first));
    expect(reads[0]?.body.equals(first)).toBe(true);
    expect(reads[0]?.release).toBeTypeOf('function');
    const firstBuffer = reads[0]!.body.buffer;
    reads[0]!.release?.();
    feed(encodeRawFrame(4, second));
    expect(reads[1]?.tag).toBe(4);
    expect(reads[1]?.body.equals(second)).toBe(true);
    // The same memory, reused: the first frame's view now shows the second frame's bytes.
    expect(reads[1]!.body.buffer).toBe(firstBuffer);
    expect(pool.stats()).toMatchObject({ allocated: 1, reused: 1, returned: 1 });
  });

  it('never writes into a buffer whose frame was not released', () => {
    const pool = new FramePool();
    const { reads, feed } = pooledReader(pool);
    const kept = randomBytes(LARGE * 2);
    const released = randomBytes(LARGE * 2);
    feed(encodeRawFrame(3, kept));
    feed(encodeRawFrame(3, released));
    reads[1]!.release?.();
    for (let i = 0; i < 5; i++) {
      const next = randomBytes(LARGE * 2);
      feed(encodeRawFrame(3, next));
      expect(reads.at(-1)?.body.equals(next)).toBe(true);
      reads.at(-1)!.release?.();
    }
    // The kept frame's bytes are untouched by six frames read after it, five into reused memory.
    expect(reads[0]!.body.equals(kept)).toBe(true);
    expect(reads[0]!.body.buffer).not.toBe(reads[1]!.body.buffer);
    expect(pool.stats()).toMatchObject({ allocated: 2, reused: 5 });
  });

  it('leaves small frames and frames that arrive whole out of the pool', () => {
    const pool = new FramePool();
    const { reads, decoder, feed } = pooledReader(pool);
    feed(encodeRawFrame(3, randomBytes(MIN_POOLED_FRAME_BYTES - 100)));
    decoder.push(encodeRawFrame(3, randomBytes(MIN_POOLED_FRAME_BYTES + 1)));
    expect(reads.map((r) => r.release)).toEqual([undefined, undefined]);
    expect(pool.stats()).toMatchObject({ allocated: 0, reused: 0 });
  });

  it('keeps at most maxBuffers free buffers, and takes only one big enough', () => {
    const pool = new FramePool({ maxBuffers: 2 });
    const buffers = [pool.take(300_000), pool.take(300_000), pool.take(300_000)];
    for (const buffer of buffers) pool.give(buffer);
    expect(pool.stats()).toMatchObject({ free: 2, dropped: 1 });
    const larger = pool.take(1_000_000);
    expect(larger.length).toBeGreaterThanOrEqual(1_000_000);
    expect(buffers).not.toContain(larger);
    expect(pool.stats()).toMatchObject({ allocated: 4, free: 2 });
    expect(buffers).toContain(pool.take(270_000));
  });

  it('reads frames of relay-batch size that span reads into buffers of their own size class', () => {
    const pool = new FramePool();
    const { reads, feed } = pooledReader(pool);
    const batch = randomBytes(17 * 1024);
    feed(encodeRawFrame(3, batch));
    expect(reads[0]?.release).toBeTypeOf('function');
    const batchBuffer = reads[0]!.body.buffer;
    expect(batchBuffer.byteLength).toBe(20 * 1024);
    reads[0]!.release?.();
    // A smaller class and a large frame each get a buffer of their own, not the free 20 KiB one.
    expect(pool.take(9 * 1024).length).toBe(10 * 1024);
    expect(pool.take(LARGE).length).toBeGreaterThanOrEqual(LARGE);
    expect(pool.stats()).toMatchObject({ allocated: 3, reused: 0, free: 1 });
    const next = randomBytes(19 * 1024);
    feed(encodeRawFrame(4, next));
    expect(reads[1]!.body.buffer).toBe(batchBuffer);
    expect(reads[1]!.body.equals(next)).toBe(true);
    expect(pool.stats()).toMatchObject({ reused: 1, free: 0 });
  });

  it('lets its free buffers go once none has been taken for a while', () => {
    vi.useFakeTimers();
    try {
      const pool = new FramePool();
      pool.give(pool.take(300_000));
      vi.advanceTimersByTime(2_000); // taken during the last period: kept
      expect(pool.stats().free).toBe(1);
      vi.advanceTimersByTime(2_000); // a whole period without a take
      expect(pool.stats()).toMatchObject({ free: 0, freeBytes: 0 });
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
