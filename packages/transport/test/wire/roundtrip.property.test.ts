import { fc, it } from '@fast-check/vitest';
import { pack, signMessage, signNodeAdvert, unpack, verifyMessage } from '@netmachine/core';
import { describe, expect, vi } from 'vitest';
import {
  type ConnectReply,
  type ConnectRequest,
  decodeFrameBody,
  encodeAdvertFrameBody,
  encodeConnectReply,
  encodeConnectRequest,
  encodeFrame,
  encodeGoodbye,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameTag,
  messageFromWire,
  messageToWire,
  type WireMessage,
} from '../../src/wire/index.js';
import { connectReply, connectRequest, keyPair, linkMessage, plainValue, uint } from './arbitraries.js';
import { normalise } from './helpers.js';

// A hundred runs per property take a second or two alone, far longer on a loaded shared machine.
vi.setConfig({ testTimeout: 180_000 });

/** Cuts a byte stream at the given positions (taken modulo its length). */
function chunksOf(stream: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(stream.subarray(start, point));
    start = point;
  }
  chunks.push(stream.subarray(start));
  return chunks;
}

/** Frames a value, runs it through a FrameDecoder and decodes the body by its tag. */
function throughFrame(tag: number, value: unknown): unknown {
  const decoded: unknown[] = [];
  const decoder = new FrameDecoder((t, body) => decoded.push(decodeFrameBody(t, body)));
  decoder.push(encodeFrame(tag, value));
  expect(decoded).toHaveLength(1);
  return decoded[0];
}

describe('frames', () => {
  it.prop([
    fc.array(fc.record({ tag: fc.integer({ min: 0, max: 255 }), value: plainValue }), {
      minLength: 1,
      maxLength: 8,
    }),
    fc.array(fc.nat(), { maxLength: 12 }),
  ])('come out of the decoder as they went in, however the stream is cut', (frames, cuts) => {
    const stream = Buffer.concat(frames.map((f) => encodeFrame(f.tag, f.value)));
    const out: Array<{ tag: number; value: unknown }> = [];
    const decoder = new FrameDecoder((tag, body) => out.push({ tag, value: unpack(body) }));
    for (const chunk of chunksOf(stream, cuts)) decoder.push(chunk);
    expect(normalise(out)).toEqual(normalise(frames));
    expect(decoder.bufferedBytes).toBe(0);
  });
});

describe('handshake', () => {
  it.prop([connectRequest])('ConnectRequest round-trips', (request: ConnectRequest) => {
    expect(throughFrame(FrameTag.ConnectRequest, encodeConnectRequest(request))).toEqual(request);
  });

  it.prop([connectReply])('ConnectReply round-trips', (reply: ConnectReply) => {
    expect(throughFrame(FrameTag.ConnectReply, encodeConnectReply(reply))).toEqual(reply);
  });

  it.prop([uint, fc.string({ maxLength: 64 }), fc.string({ maxLength: 256 })])(
    'Ping, Pong and Goodbye round-trip',
    (nonce, code, reason) => {
      expect(throughFrame(FrameTag.Ping, nonce)).toBe(nonce);
      expect(throughFrame(FrameTag.Pong, nonce)).toBe(nonce);
      expect(throughFrame(FrameTag.Goodbye, encodeGoodbye({ code, reason }))).toEqual({ code, reason });
    },
  );
});

describe('node adverts', () => {
  it.prop([keyPair, fc.nat({ max: 1000 })])('round-trip through a NodeAdvert frame', (key, version) => {
    const advert = signNodeAdvert(key, {
      addrs: [{ url: 'tls://127.0.0.1:7100', weight: 3 }],
      version,
      created: 1,
      name: 'n',
    });
    expect(normalise(throughFrame(FrameTag.NodeAdvert, encodeAdvertFrameBody(advert)))).toEqual(
      normalise(advert),
    );
  });
});

describe('engine messages', () => {
  it.prop([linkMessage])('round-trip through a Message frame', (message) => {
    const wire = throughFrame(FrameTag.Message, messageToWire(message)) as WireMessage;
    const rebuilt = messageFromWire(wire, message.src.node, message.dst.node);
    expect(normalise(rebuilt)).toEqual(normalise({ ...message, sig: undefined }));
  });

  it.prop([linkMessage, keyPair])('keep their signature valid across a link', (message, key) => {
    const signed = signMessage(key, { ...message, src: { ...message.src, node: key.id } });
    const wire = throughFrame(FrameTag.Message, messageToWire(signed)) as WireMessage;
    const rebuilt = messageFromWire(wire, signed.src.node, message.dst.node);
    expect(verifyMessage(rebuilt)).toBe(true);
  });
});

describe('frame header', () => {
  it.prop([fc.integer({ min: 0, max: 255 }), plainValue])('is u32 length then tag', (tag, value) => {
    const frame = encodeFrame(tag, value);
    expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
    expect(frame[4]).toBe(tag);
    expect(frame.subarray(FRAME_HEADER_BYTES)).toEqual(pack(value));
  });
});
