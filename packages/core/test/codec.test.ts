import { describe, expect, it } from 'vitest';
import { MalformedFrameError, pack, unpack } from '../src/index.js';

describe('pack and unpack', () => {
  it('round-trips plain values', () => {
    const value = {
      n: 1,
      neg: -5,
      big: 2 ** 40,
      f: 1.5,
      s: 'text',
      b: new Uint8Array([1, 2, 3]),
      a: [null, true, false],
      nested: { x: [1, { y: 'z' }] },
    };
    const decoded = unpack(pack(value)) as typeof value;
    expect(decoded).toEqual({ ...value, b: Buffer.from([1, 2, 3]) });
    expect(decoded.b).toBeInstanceOf(Uint8Array);
  });

  it('packs plain msgpack: no record extension, arrays as arrays', () => {
    expect(pack([1, 'a'])).toEqual(Buffer.from([0x92, 0x01, 0xa1, 0x61]));
    expect(pack({ a: 1 })).toEqual(Buffer.from([0x81, 0xa1, 0x61, 0x01]));
  });

  it('is deterministic for the same array', () => {
    const value = ['label', new Uint8Array(32).fill(9), 7, 1_700_000_000_000, null];
    expect(pack(value)).toEqual(pack(structuredClone(value)));
  });

  it.each([
    ['empty input', ''],
    ['truncated string', 'a3616263'.slice(0, 6)],
    ['trailing bytes', '0102'],
    ['length beyond the input', 'c6ffffffff00'],
    ['unknown extension', 'd40501'],
    ['map with a non-string key', '81810102'],
  ])('rejects %s with MalformedFrameError', (_label, hex) => {
    const error = (() => {
      try {
        unpack(Buffer.from(hex, 'hex'));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(MalformedFrameError);
    expect((error as MalformedFrameError).code).toBe('ERR_MALFORMED_FRAME');
    expect((error as MalformedFrameError).cause).toBeDefined();
  });

  it('turns runaway nesting into MalformedFrameError instead of a stack overflow escaping', () => {
    const deep = Buffer.concat([Buffer.alloc(200_000, 0x91), Buffer.from([0xc0])]);
    expect(() => unpack(deep)).toThrow(MalformedFrameError);
  });
});
