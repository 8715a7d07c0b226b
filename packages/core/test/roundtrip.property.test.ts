import { fc, it } from '@fast-check/vitest';
import { describe, expect, vi } from 'vitest';
import {
  base32Decode,
  base32Encode,
  type ConnectReply,
  type ConnectRequest,
  decodeFrameBody,
  domainAdvertFromWire,
  domainAdvertToWire,
  encodeAdvertFrameBody,
  encodeConnectReply,
  encodeConnectRequest,
  encodeFrame,
  encodeGoodbye,
  engineAdvertFromWire,
  engineAdvertToWire,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameTag,
  formatEngineAddress,
  formatNodeAdvert,
  identityBytes,
  messageFromWire,
  messageToWire,
  type NodeAdvert,
  type NodeId,
  nodeAdvertFromWire,
  nodeAdvertToWire,
  nodeIdFromBytes,
  pack,
  parseEngineAddress,
  parseNodeAdvert,
  parseNodeId,
  signDomainAdvert,
  signEngineAdvert,
  signMessage,
  signNodeAdvert,
  signTopicAdvert,
  topicAdvertFromWire,
  topicAdvertToWire,
  unpack,
  verifyDomainAdvert,
  verifyEngineAdvert,
  verifyMessage,
  verifyNodeAdvert,
  verifyTopicAdvert,
  type WireMessage,
} from '../src/index.js';
import {
  advertisedAddress,
  connectReply,
  connectRequest,
  engineAddress,
  engineName,
  keyPair,
  linkMessage,
  nodeId,
  pastTime,
  plainValue,
  uint,
} from './arbitraries.js';
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

const optionalName = fc.option(
  fc.string({ unit: 'grapheme', maxLength: 64 }).filter((s) => s.length <= 64),
  { nil: undefined },
);

describe('identities', () => {
  it.prop([fc.uint8Array({ maxLength: 80 })])('base32 round-trips any bytes in one text form', (bytes) => {
    const text = base32Encode(bytes);
    expect(text).toMatch(/^[a-z2-7]*$/);
    expect(base32Decode(text)).toEqual(bytes);
  });

  it.prop([nodeId])('node ids parse back to the same key bytes', (id) => {
    expect(parseNodeId(id)).toBe(id);
    expect(nodeIdFromBytes(identityBytes(id))).toBe(id);
  });

  it.prop([engineAddress])('engine addresses format and parse back', (address) => {
    expect(parseEngineAddress(formatEngineAddress(address))).toEqual(address);
  });
});

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

  it.prop([plainValue])('carry plain values through pack and unpack unchanged', (value) => {
    expect(normalise(unpack(pack(value)))).toEqual(normalise(value));
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

describe('engine messages', () => {
  it.prop([linkMessage])('round-trip through a Message frame', (message) => {
    const wire = throughFrame(FrameTag.Message, messageToWire(message)) as WireMessage;
    const rebuilt = messageFromWire(wire, message.src.node, message.dst.node);
    expect(normalise(rebuilt)).toEqual(normalise({ ...message, sig: undefined }));
  });

  it.prop([linkMessage, keyPair])('keep their signature valid across a link', (message, key) => {
    const signed = signMessage(key, { ...message, src: { ...message.src, node: key.id as NodeId } });
    const wire = throughFrame(FrameTag.Message, messageToWire(signed)) as WireMessage;
    const rebuilt = messageFromWire(wire, signed.src.node, message.dst.node);
    expect(verifyMessage(rebuilt)).toBe(true);
  });
});

describe('adverts', () => {
  const nodeFields = fc.record({
    addrs: fc.array(advertisedAddress, { maxLength: 16 }),
    version: uint,
    created: pastTime,
    name: optionalName,
  });

  it.prop([keyPair, nodeFields])('NodeAdvert: sign, wire, bytes, verify', (key, fields) => {
    const advert = signNodeAdvert(key, fields);
    const decoded = nodeAdvertFromWire(unpack(pack(nodeAdvertToWire(advert))));
    expect(normalise(verifyNodeAdvert(decoded))).toEqual(normalise(advert));
    expect(normalise(throughFrame(FrameTag.NodeAdvert, encodeAdvertFrameBody(advert)))).toEqual(
      normalise(advert),
    );
  });

  it.prop([keyPair, nodeFields])('NodeAdvert: text form round-trips', (key, fields) => {
    const advert: NodeAdvert = signNodeAdvert(key, fields);
    expect(normalise(parseNodeAdvert(formatNodeAdvert(advert)))).toEqual(normalise(advert));
  });

  it.prop([
    keyPair,
    fc.record({
      publisher: engineAddress,
      tags: fc.array(fc.string({ maxLength: 64 }), { maxLength: 32 }),
      version: uint,
      created: pastTime,
    }),
  ])('TopicAdvert: sign, wire, bytes, verify', (key, fields) => {
    const advert = signTopicAdvert(key, fields);
    const decoded = topicAdvertFromWire(unpack(pack(topicAdvertToWire(advert))));
    expect(normalise(verifyTopicAdvert(decoded))).toEqual(normalise(advert));
  });

  it.prop([
    keyPair,
    fc.record({ nodes: fc.array(nodeId, { maxLength: 20 }), version: uint, created: pastTime }),
  ])('DomainAdvert: sign, wire, bytes, verify', (key, fields) => {
    const advert = signDomainAdvert(key, fields);
    const decoded = domainAdvertFromWire(unpack(pack(domainAdvertToWire(advert))));
    expect(normalise(verifyDomainAdvert(decoded))).toEqual(normalise(advert));
  });

  it.prop([
    keyPair,
    fc.record({
      name: engineName,
      key: fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 }), { nil: undefined }),
      version: uint,
      created: pastTime,
    }),
  ])('EngineAdvert: sign, wire, bytes, verify', (key, fields) => {
    const advert = signEngineAdvert(key, fields);
    const decoded = engineAdvertFromWire(unpack(pack(engineAdvertToWire(advert))));
    expect(normalise(verifyEngineAdvert(decoded))).toEqual(normalise(advert));
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
