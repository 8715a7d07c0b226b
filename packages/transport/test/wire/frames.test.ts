import {
  type EngineMessage,
  isExpired,
  isTopicAddress,
  KeyPair,
  MAX_BODY_DEPTH,
  MAX_PROTOCOL_LENGTH,
  MalformedFrameError,
  noopLogger,
  pack,
  SchemaError,
  signMessage,
  signNodeAdvert,
  verifyMessage,
  verifyNodeAdvert,
} from '@netmachine/core';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  type ConnectReply,
  type ConnectRequest,
  decodeAdvertFrameBody,
  decodeConnectReply,
  decodeConnectRequest,
  decodeFrameBody,
  decodeGoodbye,
  decodePing,
  decodeWireMessage,
  encodeAdvertFrameBody,
  encodeConnectReply,
  encodeConnectRequest,
  encodeFrame,
  encodeGoodbye,
  FRAME_HEADER_BYTES,
  FrameTag,
  messageFromWire,
  messageToWire,
  PROTOCOL_MAX,
  PROTOCOL_MIN,
  type WireMessage,
} from '../../src/wire/index.js';
import { normalise, thrown } from './helpers.js';

const a = KeyPair.generate();
const b = KeyPair.generate();
const nodeA = a.id;
const nodeB = b.id;

/** Encodes as a real frame, then decodes the frame body by its tag, as a connection does. */
function throughFrame(tag: number, value: unknown): unknown {
  const frame = encodeFrame(tag, value);
  return decodeFrameBody(frame[4]!, frame.subarray(FRAME_HEADER_BYTES));
}

const message: EngineMessage = {
  id: 42,
  src: { node: nodeA, name: 'client' },
  dst: { node: nodeB, name: 'kv' },
  replyTo: 7,
  expiry: 1_780_000_000_000,
  protocol: 'kv/get@1',
  body: { key: 'k', value: new Uint8Array([1, 2, 3]), list: [1, 'two', null, true, 1.5] },
};

describe('handshake', () => {
  const request: ConnectRequest = {
    protoMin: PROTOCOL_MIN,
    protoMax: PROTOCOL_MAX,
    src: nodeA,
    dst: nodeB,
    srcAdvertVersion: 5,
    dstAdvertVersion: 0,
  };

  it('round-trips a ConnectRequest through a frame', () => {
    expect(throughFrame(FrameTag.ConnectRequest, encodeConnectRequest(request))).toEqual(request);
  });

  it.each<[string, ConnectReply]>([
    ['ok', { ok: true, proto: 1, srcAdvertVersion: 3, dstAdvertVersion: 4 }],
    ['OverCapacity', { ok: false, error: 'OverCapacity', reason: 'try later' }],
    ['Incompatible', { ok: false, error: 'Incompatible', reason: '' }],
    ['Denied', { ok: false, error: 'Denied', reason: 'banned' }],
  ])('round-trips a ConnectReply (%s) through a frame', (_label, reply) => {
    expect(throughFrame(FrameTag.ConnectReply, encodeConnectReply(reply))).toEqual(reply);
  });

  it.each<[string, (wire: unknown[]) => unknown[]]>([
    ['protoMax below protoMin', (w) => Object.assign(w, { 0: 2, 1: 1 })],
    ['protoMin above 16 bits', (w) => Object.assign(w, { 0: 0x10000, 1: 0x10000 })],
    ['a short source key', (w) => Object.assign(w, { 2: new Uint8Array(31) })],
    ['a destination given as text', (w) => Object.assign(w, { 3: nodeB })],
    ['a negative advert version', (w) => Object.assign(w, { 4: -1 })],
    ['a fractional advert version', (w) => Object.assign(w, { 5: 0.5 })],
    ['a missing field', (w) => w.slice(0, -1)],
    ['an extra field', (w) => [...w, 0]],
  ])('rejects a ConnectRequest with %s', (_label, mutate) => {
    expect(() => decodeConnectRequest(mutate(encodeConnectRequest(request)))).toThrow(SchemaError);
  });

  it.each([
    ['a non-boolean ok', [1, 1, 0, 0]],
    ['ok with three fields', [true, 1, 0]],
    ['ok with a proto above 16 bits', [true, 0x10000, 0, 0]],
    ['an unknown error kind', [false, 'Teapot', 'x']],
    ['an error kind of the wrong type', [false, 3, 'x']],
    ['an over-long reason', [false, 'Denied', 'x'.repeat(257)]],
    ['a reason of the wrong type', [false, 'Denied', 5]],
    ['an error with four fields', [false, 'Denied', 'x', 'extra']],
    ['too few fields', [false, 'Denied']],
    ['a map', { ok: true }],
  ])('rejects a ConnectReply with %s', (_label, wire) => {
    expect(() => decodeConnectReply(wire)).toThrow(SchemaError);
  });
});

describe('engine messages on a link', () => {
  it('round-trips through a Message frame and rebuilds the addresses from the link', () => {
    const wire = throughFrame(FrameTag.Message, messageToWire(message));
    const decoded = decodeWireMessage(messageToWire(message));
    expect(normalise(wire)).toEqual(normalise(decoded));
    expect(normalise(messageFromWire(decoded, nodeA, nodeB))).toEqual(
      normalise({ ...message, sig: undefined }),
    );
  });

  it('reads absent replyTo, expiry and sig as undefined', () => {
    const bare: EngineMessage = { id: 0, src: message.src, dst: message.dst, protocol: 'p', body: null };
    const decoded = throughFrame(FrameTag.Message, messageToWire(bare));
    expect(decoded).toEqual({
      id: 0,
      srcName: 'client',
      dstName: 'kv',
      replyTo: undefined,
      expiry: undefined,
      protocol: 'p',
      body: null,
      sig: undefined,
    });
  });

  it('refuses to put a topic message on a link', () => {
    const topicMessage = { ...message, dst: { topic: a.topicId } };
    expect(() => messageToWire(topicMessage)).toThrow(SchemaError);
  });

  const valid = () => messageToWire({ ...message, sig: new Uint8Array(64) });
  it.each<[string, (w: unknown[]) => void]>([
    ['a negative id', (w) => (w[0] = -1)],
    ['an id as text', (w) => (w[0] = '1')],
    ['a bad source name', (w) => (w[1] = 'bad name')],
    ['an empty destination name', (w) => (w[2] = '')],
    ['a fractional replyTo', (w) => (w[3] = 1.5)],
    ['an expiry as text', (w) => (w[4] = 'tomorrow')],
    ['an empty protocol', (w) => (w[5] = '')],
    ['an over-long protocol', (w) => (w[5] = 'p'.repeat(MAX_PROTOCOL_LENGTH + 1))],
    ['a short signature', (w) => (w[7] = new Uint8Array(63))],
    ['a signature as text', (w) => (w[7] = 'sig')],
    ['a body nested too deeply', (w) => (w[6] = nest(MAX_BODY_DEPTH + 1))],
    ['a missing field', (w) => w.pop()],
  ])('rejects a wire message with %s', (_label, mutate) => {
    const wire = valid();
    mutate(wire);
    expect(thrown(() => decodeWireMessage(wire))).toBeInstanceOf(SchemaError);
  });

  it('accepts a body nested to the limit', () => {
    const wire = valid();
    wire[6] = nest(MAX_BODY_DEPTH - 1);
    expect(decodeWireMessage(wire).body).toEqual(nest(MAX_BODY_DEPTH - 1));
  });

  // msgpackr decodes its own extensions even with them off for packing; a peer can send any of them.
  const extensionPackr = new Packr({ moreTypes: true, useRecords: false, structuredClone: true });
  const cyclic: { self?: unknown } = {};
  cyclic.self = cyclic;
  it.each<[string, Buffer]>([
    ['a Set', extensionPackr.pack(new Set([1]))],
    ['an Error', extensionPackr.pack(new Error('x'))],
    ['a RegExp', extensionPackr.pack(/a+/)],
    ['a Float64Array', extensionPackr.pack(new Float64Array([1.5]))],
    ['a BigInt', Buffer.from('d54201ff', 'hex')],
    ['the never-used byte 0xc1', Buffer.from([0xc1])],
  ])('rejects a body holding %s', (_label, encodedBody) => {
    const head = pack([1, 'a', 'b', null, null, 'p']);
    // Splice the raw body between the packed fields: an 8-element array header, 6 fields, body, nil sig.
    const body = Buffer.concat([Buffer.from([0x98]), head.subarray(1), encodedBody, Buffer.from([0xc0])]);
    expect(thrown(() => decodeFrameBody(FrameTag.Message, body))).toBeInstanceOf(SchemaError);
  });

  it('rejects cyclic values built with reference extensions', () => {
    const body = extensionPackr.pack([1, 'a', 'b', null, null, 'p', cyclic, null]);
    expect(thrown(() => decodeFrameBody(FrameTag.Message, body))).toBeInstanceOf(MalformedFrameError);
  });
});

function nest(depth: number): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

describe('message signatures', () => {
  const signed = signMessage(a, message);

  it('verifies a signed message, also after crossing a link', () => {
    expect(signed.sig).toHaveLength(64);
    expect(verifyMessage(signed)).toBe(true);
    const wire = throughFrame(FrameTag.Message, messageToWire(signed));
    expect(verifyMessage(messageFromWire(wire as WireMessage, nodeA, nodeB))).toBe(true);
  });

  it('returns false for an unsigned message', () => {
    expect(verifyMessage(message)).toBe(false);
  });

  it.each<[string, Partial<EngineMessage>]>([
    ['id', { id: 43 }],
    ['source name', { src: { node: nodeA, name: 'other' } }],
    ['source node', { src: { node: nodeB, name: 'client' } }],
    ['destination name', { dst: { node: nodeB, name: 'kv2' } }],
    ['destination node', { dst: { node: nodeA, name: 'kv' } }],
    ['replyTo', { replyTo: undefined }],
    ['expiry', { expiry: message.expiry! + 1 }],
    ['protocol', { protocol: 'kv/get@2' }],
    ['body', { body: { ...(message.body as object), key: 'j' } }],
  ])('returns false after a change of the %s', (_label, change) => {
    expect(verifyMessage({ ...signed, ...change })).toBe(false);
  });

  it('returns false for a flipped signature bit or the wrong signer', () => {
    const sig = new Uint8Array(signed.sig!);
    sig[5]! ^= 4;
    expect(verifyMessage({ ...signed, sig })).toBe(false);
    expect(verifyMessage(signed, b.publicKey)).toBe(false);
  });

  it('verifies a keyed engine signing with its own key', () => {
    const engineKey = KeyPair.generate();
    const byEngine = signMessage(engineKey, message);
    expect(verifyMessage(byEngine)).toBe(false);
    expect(verifyMessage(byEngine, engineKey.publicKey)).toBe(true);
  });

  it('signs topic messages, bound to the topic', () => {
    const topic = KeyPair.generate().topicId;
    const toTopic = signMessage(a, { ...message, dst: { topic } });
    expect(verifyMessage(toTopic)).toBe(true);
    expect(verifyMessage({ ...toTopic, dst: { topic: KeyPair.generate().topicId } })).toBe(false);
  });
});

describe('small frames', () => {
  it('round-trips a NodeAdvert frame', () => {
    const advert = signNodeAdvert(a, { addrs: [{ url: 'memory://a', weight: 1 }], version: 1, created: 1 });
    const decoded = throughFrame(FrameTag.NodeAdvert, encodeAdvertFrameBody(advert));
    expect(normalise(decoded)).toEqual(normalise(advert));
    expect(normalise(decodeAdvertFrameBody(encodeAdvertFrameBody(advert)))).toEqual(normalise(advert));
    expect(() => verifyNodeAdvert(decoded as typeof advert, { now: 1 })).not.toThrow();
  });

  it('decodes Ping, Pong and Goodbye', () => {
    expect(throughFrame(FrameTag.Ping, 123)).toBe(123);
    expect(throughFrame(FrameTag.Pong, 2 ** 40)).toBe(2 ** 40);
    expect(throughFrame(FrameTag.Goodbye, ['shutdown', 'bye'])).toEqual({ code: 'shutdown', reason: 'bye' });
    expect(decodePing(0)).toBe(0);
    expect(decodeGoodbye(encodeGoodbye({ code: 'c', reason: '' }))).toEqual({ code: 'c', reason: '' });
  });

  it.each([-1, 1.5, 'x', null, [1]])('rejects the ping %j', (value) => {
    expect(() => decodePing(value)).toThrow(SchemaError);
  });

  it.each([
    [['c']],
    [['c', 'r', 'x']],
    [[1, 'r']],
    [['c'.repeat(65), 'r']],
    [['c', 'r'.repeat(257)]],
    ['bye'],
  ])('rejects the goodbye %j', (value) => {
    expect(() => decodeGoodbye(value)).toThrow(SchemaError);
  });
});

describe('decodeFrameBody', () => {
  const wrongShapes: Array<[string, number, unknown]> = [
    ['ConnectRequest', FrameTag.ConnectRequest, [1, 1]],
    ['ConnectReply', FrameTag.ConnectReply, 'ok'],
    ['Message', FrameTag.Message, { id: 1 }],
    ['NodeAdvert', FrameTag.NodeAdvert, [1, 2, 3, 4, 5, 6]],
    ['Ping', FrameTag.Ping, 'ping'],
    ['Pong', FrameTag.Pong, -5],
    ['Goodbye', FrameTag.Goodbye, null],
  ];

  it.each(wrongShapes)('rejects a %s body of the wrong shape with SchemaError', (_name, tag, value) => {
    const error = thrown(() => throughFrame(tag, value));
    expect(error).toBeInstanceOf(SchemaError);
    expect((error as SchemaError).path).toBeTruthy();
  });

  it.each(wrongShapes)('rejects a %s body that is not msgpack with MalformedFrameError', (_name, tag) => {
    expect(() => decodeFrameBody(tag, Buffer.from([0x92, 0x01]))).toThrow(MalformedFrameError);
    expect(() => decodeFrameBody(tag, Buffer.alloc(0))).toThrow(MalformedFrameError);
  });

  it.each([0, 8, 0x42, 0xff])('rejects the unknown tag %d', (tag) => {
    expect(() => decodeFrameBody(tag, pack(1))).toThrow(SchemaError);
  });
});

describe('message helpers', () => {
  it('tells topic destinations from engine destinations', () => {
    expect(isTopicAddress({ topic: a.topicId })).toBe(true);
    expect(isTopicAddress({ node: nodeA, name: 'x' })).toBe(false);
  });

  it('treats a message as expired from its expiry time on, and never without one', () => {
    expect(isExpired({ expiry: 100 }, 99)).toBe(false);
    expect(isExpired({ expiry: 100 }, 100)).toBe(true);
    expect(isExpired({}, Number.MAX_SAFE_INTEGER)).toBe(false);
    expect(isExpired({ expiry: Date.now() - 1 })).toBe(true);
  });

  it('offers a logger that discards everything, children included', () => {
    expect(() => {
      noopLogger.info('x');
      noopLogger.error({ a: 1 }, 'y');
      noopLogger.child({ engine: 'kv' }).debug('z');
    }).not.toThrow();
    expect(noopLogger.child({})).toBe(noopLogger);
  });
});
