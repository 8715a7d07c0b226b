import { FrameTooLargeError, MalformedFrameError, pack } from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_FRAME_SIZE,
  encodeFrame,
  encodeRawFrame,
  FRAME_HEADER_BYTES,
  FrameDecoder,
} from '../../src/wire/index.js';

type Frame = { tag: number; body: Buffer };

/** A decoder that collects frames, with the body copied so later pushes cannot alias it. */
function collector(maxFrameSize?: number): { decoder: FrameDecoder; frames: Frame[] } {
  const frames: Frame[] = [];
  const decoder = new FrameDecoder(
    (tag, body) => frames.push({ tag, body: Buffer.from(body) }),
    maxFrameSize,
  );
  return { decoder, frames };
}

function header(length: number, tag?: number): Buffer {
  const bytes = Buffer.alloc(tag === undefined ? 4 : 5);
  bytes.writeUInt32BE(length, 0);
  if (tag !== undefined) bytes[4] = tag;
  return bytes;
}

describe('encodeFrame and encodeRawFrame', () => {
  it('writes u32 big-endian length of tag + body, then the tag, then msgpack', () => {
    const frame = encodeFrame(0x03, [1, 'a']);
    const body = pack([1, 'a']);
    expect(frame.readUInt32BE(0)).toBe(body.length + 1);
    expect(frame[4]).toBe(0x03);
    expect(frame.subarray(FRAME_HEADER_BYTES)).toEqual(body);
    expect(encodeRawFrame(0x03, body)).toEqual(frame);
  });

  it('frames an empty raw body as a tag-only frame', () => {
    expect(encodeRawFrame(0x07, new Uint8Array(0))).toEqual(Buffer.from([0, 0, 0, 1, 7]));
  });
});

describe('FrameDecoder', () => {
  const frames = [
    encodeFrame(0x05, 1),
    encodeFrame(0x03, [7, 'src', 'dst', null, null, 'p@1', { hello: 'world' }, null]),
    encodeRawFrame(0x07, new Uint8Array(0)),
    encodeFrame(0x04, new Uint8Array(300).fill(0x5a)),
  ];
  const stream = Buffer.concat(frames);
  const expected = frames.map((f) => ({ tag: f[4]!, body: Buffer.from(f.subarray(FRAME_HEADER_BYTES)) }));

  it('decodes several frames in one chunk', () => {
    const { decoder, frames: out } = collector();
    decoder.push(stream);
    expect(out).toEqual(expected);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('decodes the same frames when the stream is split at every byte boundary', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const { decoder, frames: out } = collector();
      decoder.push(stream.subarray(0, cut));
      decoder.push(stream.subarray(cut));
      expect(out, `split at ${cut}`).toEqual(expected);
      expect(decoder.bufferedBytes).toBe(0);
    }
  });

  it('decodes the stream fed one byte at a time, and in two cuts at every pair of boundaries', () => {
    const single = collector();
    for (const byte of stream) single.decoder.push(Buffer.from([byte]));
    expect(single.frames).toEqual(expected);

    const small = Buffer.concat(frames.slice(0, 3));
    const smallExpected = expected.slice(0, 3);
    for (let a = 0; a <= small.length; a++) {
      for (let b = a; b <= small.length; b++) {
        const { decoder, frames: out } = collector();
        decoder.push(small.subarray(0, a));
        decoder.push(small.subarray(a, b));
        decoder.push(small.subarray(b));
        expect(out).toEqual(smallExpected);
      }
    }
  });

  it('accepts empty chunks anywhere', () => {
    const { decoder, frames: out } = collector();
    decoder.push(Buffer.alloc(0));
    decoder.push(stream.subarray(0, 2));
    decoder.push(Buffer.alloc(0));
    decoder.push(stream.subarray(2, 7));
    decoder.push(Buffer.alloc(0));
    decoder.push(stream.subarray(7));
    expect(out).toEqual(expected);
  });

  it('reports how many bytes it holds for an incomplete frame', () => {
    const { decoder, frames: out } = collector();
    const frame = frames[3]!;
    decoder.push(frame.subarray(0, 2));
    expect(decoder.bufferedBytes).toBe(2);
    decoder.push(frame.subarray(2, 100));
    expect(decoder.bufferedBytes).toBe(96);
    decoder.push(frame.subarray(100));
    expect(decoder.bufferedBytes).toBe(0);
    expect(out).toHaveLength(1);
  });

  it('hands over frames that outlive the chunk they arrived in when split', () => {
    const { decoder, frames: out } = collector();
    const frame = frames[1]!;
    const first = Buffer.from(frame.subarray(0, 10));
    decoder.push(first);
    first.fill(0xee);
    decoder.push(Buffer.from(frame.subarray(10)));
    expect(out).toEqual([expected[1]]);
  });

  it('accepts a frame of exactly the maximum size', () => {
    const max = 64;
    const { decoder, frames: out } = collector(max);
    decoder.push(Buffer.concat([header(max, 9), Buffer.alloc(max - 1, 1)]));
    expect(out).toHaveLength(1);
    expect(out[0]!.body).toHaveLength(max - 1);
  });

  it('rejects an oversize length prefix before allocating, from the header alone', () => {
    const { decoder, frames: out } = collector(1024);
    const error = (() => {
      try {
        decoder.push(header(1025));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(FrameTooLargeError);
    expect(error).toMatchObject({ size: 1025, max: 1024, code: 'ERR_FRAME_TOO_LARGE' });
    expect(decoder.bufferedBytes).toBe(0);
    expect(out).toEqual([]);
  });

  it('rejects a 4 GiB length prefix split across chunks without holding anything for it', () => {
    const { decoder } = collector();
    decoder.push(Buffer.from([0xff, 0xff]));
    expect(() => decoder.push(Buffer.from([0xff, 0xff]))).toThrow(FrameTooLargeError);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('rejects an oversize frame that follows valid ones, after delivering them', () => {
    const { decoder, frames: out } = collector(DEFAULT_MAX_FRAME_SIZE);
    expect(() => decoder.push(Buffer.concat([frames[0]!, header(DEFAULT_MAX_FRAME_SIZE + 1, 3)]))).toThrow(
      FrameTooLargeError,
    );
    expect(out).toEqual([expected[0]]);
  });

  it('rejects a zero length (a frame without a type tag)', () => {
    const { decoder } = collector();
    expect(() => decoder.push(header(0))).toThrow(MalformedFrameError);
  });

  it('delivers a length-1 frame as a tag with an empty body', () => {
    const { decoder, frames: out } = collector();
    decoder.push(header(1, 6));
    expect(out).toEqual([{ tag: 6, body: Buffer.alloc(0) }]);
  });

  it('waits, rather than fails, on a short frame or a partial header', () => {
    const { decoder, frames: out } = collector();
    decoder.push(Buffer.from([0, 0, 0]));
    expect(out).toEqual([]);
    decoder.push(Buffer.from([10, 3, 1, 2]));
    expect(out).toEqual([]);
    expect(decoder.bufferedBytes).toBe(3);
  });

  it('refuses all further input after an error', () => {
    const { decoder, frames: out } = collector(16);
    expect(() => decoder.push(header(17))).toThrow(FrameTooLargeError);
    expect(() => decoder.push(frames[0]!)).toThrow(FrameTooLargeError);
    expect(out).toEqual([]);
  });

  it('stops at, and keeps, an error thrown by the frame handler', () => {
    const boom = new Error('handler failed');
    let calls = 0;
    const decoder = new FrameDecoder(() => {
      calls++;
      throw boom;
    });
    expect(() => decoder.push(stream)).toThrow(boom);
    expect(() => decoder.push(frames[0]!)).toThrow(boom);
    expect(calls).toBe(1);
  });
});
