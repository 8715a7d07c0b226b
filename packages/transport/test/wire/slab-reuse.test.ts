import { pack, unpack } from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import { FRAME_HEADER_BYTES, FrameSlab } from '../../src/wire/index.js';
import { decodeMessageBody } from '../../src/wire/message-frame.js';
import { SlabPool } from '../../src/wire/slab-pool.js';
import { plainMessage } from './slab-fixtures.js';

const MAX = 1 << 20;

const base = plainMessage;

/** A body whose every byte says which message it is. */
function filled(id: number, bytes: number): Uint8Array {
  return new Uint8Array(bytes).fill(id & 0xff);
}

/** The bodies of the Message frames in `parts`, in order. */
function bodiesOf(parts: readonly Buffer[]): unknown[] {
  const out: unknown[] = [];
  for (const part of parts) {
    let at = 0;
    while (at < part.length) {
      const length = part.readUInt32BE(at);
      out.push(decodeMessageBody(part.subarray(at + FRAME_HEADER_BYTES, at + 4 + length)).body);
      at += 4 + length;
    }
  }
  return out;
}

describe('SlabPool', () => {
  it('hands out power-of-two slabs from 4 KiB, each with its own memory', () => {
    const pool = new SlabPool();
    expect(pool.acquire(1).length).toBe(4096);
    expect(pool.acquire(4097).length).toBe(8192);
    const slab = pool.acquire(100_000);
    expect(slab.length).toBe(131_072);
    expect(slab.byteOffset).toBe(0);
    expect(slab.buffer.byteLength).toBe(slab.length);
  });

  it('reuses what is given back, and drops what a full class or pool has no room for', () => {
    const pool = new SlabPool({ perClass: 2, maxBytes: 3 * 8192 });
    const slabs = [pool.acquire(8192), pool.acquire(8192), pool.acquire(8192)];
    for (const slab of slabs) pool.recycle(slab);
    // The class keeps two; the third is left to the GC.
    expect(pool.stats()).toMatchObject({ allocated: 3, recycled: 2, dropped: 1, free: 2, freeBytes: 16_384 });
    expect(slabs).toContain(pool.acquire(8000));
    expect(pool.stats().reused).toBe(1);
    // The byte limit: 8 KiB free plus 32 KiB would pass 24 KiB.
    pool.recycle(pool.acquire(32_768));
    expect(pool.stats().dropped).toBe(2);
    // A slab larger than the largest class is never kept.
    pool.recycle(Buffer.allocUnsafeSlow(4 << 20));
    expect(pool.stats().dropped).toBe(3);
  });

  it('keeps the slab of a frame a little over 1 MiB (a 1 MiB payload and its envelope)', () => {
    const pool = new SlabPool();
    const slab = new FrameSlab(64 * 1024, pool);
    const big = 2 * MAX;
    for (let id = 1; id <= 4; id++) {
      slab.appendMessage({ ...base, id, body: filled(id, 1 << 20) }, big);
      const parts = slab.takeParts();
      expect(bodiesOf(parts)).toHaveLength(1);
      for (const part of parts) slab.releasePart(part);
    }
    slab.clear();
    // One 2 MiB slab, taken again for every later frame.
    expect(pool.stats()).toMatchObject({ allocated: 1, reused: 3, dropped: 0 });
  });
});

describe('FrameSlab with a pool', () => {
  it('never reuses a slab whose bytes the connection still holds, and reuses the others', () => {
    const pool = new SlabPool();
    const slab = new FrameSlab(64 * 1024, pool);
    // Large frames, each in a slab of its own; the first two are held (as a socket that has not
    // sent them yet), every later one released as soon as it is taken.
    const held: Buffer[][] = [];
    const copies: Buffer[] = [];
    let released = 0;
    for (let id = 1; id <= 40; id++) {
      slab.appendMessage({ ...base, id, body: filled(id, 100_000) }, MAX);
      // A small frame behind it shares the current slab.
      slab.appendMessage({ ...base, id: 1000 + id, body: filled(id, 10) }, MAX);
      const parts = slab.takeParts();
      if (id <= 2) {
        held.push(parts);
        copies.push(Buffer.concat(parts));
        continue;
      }
      for (const part of parts) slab.releasePart(part);
      released++;
    }
    // Later sends reused released slabs many times over…
    expect(pool.stats().reused).toBeGreaterThan(released / 2);
    // …and never those still held: their bytes are as written.
    for (const [i, parts] of held.entries()) {
      expect(Buffer.concat(parts).equals(copies[i]!)).toBe(true);
      const bodies = bodiesOf(parts);
      expect(bodies).toHaveLength(2);
      expect(Buffer.from(bodies[0] as Uint8Array).equals(Buffer.from(filled(i + 1, 100_000)))).toBe(true);
    }
    // Once released, they too go back.
    const recycled = pool.stats().recycled;
    for (const parts of held) for (const part of parts) slab.releasePart(part);
    slab.clear();
    expect(pool.stats().recycled).toBeGreaterThan(recycled);
  });

  it('keeps a slab out of the pool while any part cut from it is out', () => {
    const pool = new SlabPool();
    const slab = new FrameSlab(64 * 1024, pool);
    slab.appendMessage(base, MAX);
    const first = slab.takeParts();
    slab.appendMessage({ ...base, id: 2 }, MAX);
    const second = slab.takeParts();
    // Both are cut from the same slab, which the writer leaves for a new one on clear.
    expect(first[0]!.buffer).toBe(second[0]!.buffer);
    slab.clear();
    for (const part of first) slab.releasePart(part);
    expect(pool.stats().recycled).toBe(0);
    for (const part of second) slab.releasePart(part);
    expect(pool.stats().recycled).toBe(1);
  });

  it('gives back at once the parts it joins into one buffer', () => {
    const pool = new SlabPool();
    const slab = new FrameSlab(4096, pool);
    for (let id = 1; id <= 30; id++) slab.appendMessage({ ...base, id, body: filled(id, 500) }, MAX);
    const joined = slab.take()!;
    expect(bodiesOf([joined])).toHaveLength(30);
    slab.clear();
    // Every slab filled on the way went back once it was joined; only the last one was current.
    expect(pool.stats().recycled).toBe(pool.stats().allocated);
  });
});

describe('plain objects as bodies', () => {
  it('are written straight into the frame and read back as msgpackr reads them', () => {
    const payload = filled(7, 70_000);
    const bodies: unknown[] = [
      { type: 'gossip', id: 'abc/1', payload, hops: 3 },
      { nested: { list: [1, -2, 3.5, 'x', null, true], deeper: { empty: {} } } },
      Object.assign(Object.create(null), { nullProto: 1 }),
      Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])),
    ];
    for (const body of bodies) {
      const slab = new FrameSlab();
      slab.appendMessage({ ...base, body }, MAX);
      const [decoded] = bodiesOf(slab.takeParts());
      expect(decoded).toEqual(unpack(pack(body)));
    }
  });

  it('fall back to msgpackr when they hold what the direct writer does not write', () => {
    const slab = new FrameSlab();
    const body = { when: new Date(0), missing: undefined, map: new Map([[1, 2]]) };
    slab.appendMessage({ ...base, body }, MAX);
    const [decoded] = bodiesOf(slab.takeParts());
    expect(decoded).toEqual(unpack(pack(body)));
  });

  it('are refused, and nothing appended, when they grow while being written', () => {
    const slab = new FrameSlab();
    let reads = 0;
    const body = {
      get grows(): string {
        reads++;
        return reads === 1 ? 'x' : 'x'.repeat(10_000);
      },
    };
    // A typed error when the overrun fits the slab, the buffer's own RangeError when it does not.
    expect(() => slab.appendMessage({ ...base, body }, MAX)).toThrow();
    expect(slab.pendingBytes).toBe(0);
    slab.appendMessage(base, MAX);
    expect(Buffer.from(bodiesOf(slab.takeParts())[0] as Uint8Array).equals(Buffer.alloc(10))).toBe(true);
  });
});
