import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WriteBatch } from '../src/write-batch.js';

describe('WriteBatch', () => {
  it('returns what was appended, in order, and owns copies of it', () => {
    const batch = new WriteBatch(1024);
    const pieces = [randomBytes(10), randomBytes(1000), randomBytes(5000), randomBytes(3), randomBytes(1021)];
    const expected = Buffer.concat(pieces);
    for (const piece of pieces) batch.append(piece);
    for (const piece of pieces) piece.fill(0); // the caller reuses its buffers at once
    expect(batch.bytes).toBe(expected.length);
    const parts = batch.take();
    expect(Buffer.concat(parts).equals(expected)).toBe(true);
    expect(batch.bytes).toBe(0);
    expect(batch.take()).toEqual([]);
  });

  it('never rewrites bytes it has handed out, while reusing a slab for small writes', () => {
    const batch = new WriteBatch(64);
    batch.append(Buffer.from('first'));
    const [first] = batch.take();
    batch.append(Buffer.from('second'));
    const [second] = batch.take();
    expect(first!.toString()).toBe('first');
    expect(second!.toString()).toBe('second');
    expect(second!.buffer).toBe(first!.buffer); // same slab
  });

  it('keeps an adopted buffer in place, after what was appended before it and before what comes after', () => {
    const batch = new WriteBatch(1024);
    batch.append(Buffer.from('one '));
    const adopted = Buffer.from('two ');
    batch.adopt(adopted);
    batch.append(Buffer.from('three'));
    expect(batch.bytes).toBe(13);
    const parts = batch.take();
    expect(Buffer.concat(parts).toString()).toBe('one two three');
    expect(parts).toContain(adopted); // not copied
    batch.adopt(Buffer.alloc(0));
    expect(batch.take()).toEqual([]);
  });

  it('drops everything on clear', () => {
    const batch = new WriteBatch(16);
    batch.append(randomBytes(100));
    batch.clear();
    expect(batch.bytes).toBe(0);
    expect(batch.take()).toEqual([]);
  });

  it('hands over the written callbacks of adopted buffers with the take, and forgets them on clear', () => {
    const batch = new WriteBatch(1024);
    const calls: string[] = [];
    batch.adopt(Buffer.from('a'), () => calls.push('a'));
    batch.append(Buffer.from('copied'));
    batch.adopt(Buffer.from('b'), () => calls.push('b'));
    expect(Buffer.concat(batch.take()).toString()).toBe('acopiedb');
    const written = batch.takeWritten()!;
    expect(written).toHaveLength(2);
    expect(batch.takeWritten()).toBeUndefined();
    for (const callback of written) callback();
    expect(calls).toEqual(['a', 'b']);
    // An empty buffer is done at once; a cleared one never is.
    batch.adopt(Buffer.alloc(0), () => calls.push('empty'));
    batch.adopt(Buffer.from('c'), () => calls.push('c'));
    batch.clear();
    expect(batch.takeWritten()).toBeUndefined();
    expect(calls).toEqual(['a', 'b', 'empty']);
  });
});
