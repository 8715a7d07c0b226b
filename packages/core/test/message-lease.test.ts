import { describe, expect, it } from 'vitest';
import type { EngineMessage } from '../src/index.js';
import {
  bodyEncoded,
  holdBytes,
  keepBytes,
  leaseBytes,
  leaseMessageBytes,
  releaseMessageBytes,
  releaseWhenEncoded,
  shareMessageBytes,
} from '../src/index.js';

describe('releaseWhenEncoded', () => {
  it('calls the release once, when the transport says that body was encoded', () => {
    const body = [1, new Uint8Array(4)];
    let released = 0;
    releaseWhenEncoded(body, () => released++);
    bodyEncoded([1, new Uint8Array(4)]); // an equal body, not the lent one
    bodyEncoded(undefined);
    bodyEncoded('text');
    expect(released).toBe(0);
    bodyEncoded(body);
    bodyEncoded(body);
    expect(released).toBe(1);
  });
});

describe('holdBytes', () => {
  it('keeps a leased buffer from its transport until the message and every hold have let go', () => {
    const buffer = Buffer.alloc(64);
    const message = { id: 'm' } as unknown as EngineMessage;
    let released = 0;
    leaseMessageBytes(message, () => released++);
    const view = buffer.subarray(8, 16);
    // Not shared yet: a view finds no lease.
    expect(holdBytes(view)).toBeUndefined();
    expect(shareMessageBytes(message, buffer.subarray(4, 12))).toBe(true);
    const first = holdBytes(view);
    const second = holdBytes(buffer.subarray(20));
    expect(first).toBeTypeOf('function');
    expect(releaseMessageBytes(message)).toBe(true);
    expect(released).toBe(0);
    first?.();
    first?.(); // a second call does nothing
    expect(released).toBe(0);
    second?.();
    expect(released).toBe(1);
    // Handed back: a view of it finds no lease any more (the memory may hold another frame now).
    expect(holdBytes(view)).toBeUndefined();
    expect(releaseMessageBytes(message)).toBe(false);
  });

  it('finds nothing to hold in fresh memory; a producer lease ends with its last holder', () => {
    expect(holdBytes(Buffer.alloc(16))).toBeUndefined();
    const pooled = Buffer.alloc(32);
    let released = 0;
    const done = leaseBytes(pooled.subarray(0, 20), () => released++);
    const cached = holdBytes(pooled.subarray(4, 8));
    done();
    done();
    expect(released).toBe(0);
    cached?.();
    expect(released).toBe(1);
  });

  it('never hands back bytes kept for good, whatever is let go after', () => {
    const pooled = Buffer.alloc(32);
    let released = 0;
    const done = leaseBytes(pooled, () => released++);
    const cached = holdBytes(pooled.subarray(0, 4));
    keepBytes(pooled.subarray(8, 12));
    done();
    cached?.();
    expect(released).toBe(0);
    expect(holdBytes(pooled)).toBeUndefined();
  });
});
