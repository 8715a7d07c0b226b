import { fc, it } from '@fast-check/vitest';
import {
  isEngineName,
  isKeyText,
  MAX_PROTOCOL_LENGTH,
  NetmachineError,
  nodeAdvertFromWire,
  pack,
  signMessage,
  signNodeAdvert,
  unpack,
  verifyMessage,
} from '@netmachine/core';
import { describe, expect, vi } from 'vitest';
import {
  type ConnectReply,
  type ConnectRequest,
  DEFAULT_MAX_FRAME_SIZE,
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
  FrameDecoder,
  FrameTag,
  messageFromWire,
  messageToWire,
  type WireMessage,
} from '../../src/wire/index.js';
import {
  applyMutation,
  connectReply,
  connectRequest,
  HOSTILE_FRAGMENTS,
  keyPair,
  linkMessage,
  mutation,
  plainValue,
} from './arbitraries.js';
import { decodesOrRejects, isUint, normalise } from './helpers.js';

// A hundred runs per property take a second or two alone, far longer on a loaded shared machine.
vi.setConfig({ testTimeout: 180_000 });

function isPlain(value: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  if (value === null || value === undefined) return true;
  if (['boolean', 'number', 'string'].includes(typeof value)) return true;
  if (value instanceof Uint8Array || value instanceof Date) return true;
  if (Array.isArray(value)) return value.every((v) => isPlain(v, depth + 1));
  if (typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.values(value).every((v) => isPlain(v, depth + 1));
}

function checkConnectRequest(r: ConnectRequest): void {
  expect(isUint(r.protoMin, 0xffff) && isUint(r.protoMax, 0xffff) && r.protoMin <= r.protoMax).toBe(true);
  expect(isKeyText(r.src) && isKeyText(r.dst)).toBe(true);
  expect(isUint(r.srcAdvertVersion) && isUint(r.dstAdvertVersion)).toBe(true);
}

function checkConnectReply(r: ConnectReply): void {
  if (r.ok) {
    expect(isUint(r.proto, 0xffff) && isUint(r.srcAdvertVersion) && isUint(r.dstAdvertVersion)).toBe(true);
  } else {
    expect(['OverCapacity', 'Incompatible', 'Denied']).toContain(r.error);
    expect(typeof r.reason === 'string' && r.reason.length <= 256).toBe(true);
  }
}

function checkWireMessage(m: WireMessage): void {
  expect(isUint(m.id)).toBe(true);
  expect(isEngineName(m.srcName) && isEngineName(m.dstName)).toBe(true);
  expect(m.replyTo === undefined || isUint(m.replyTo)).toBe(true);
  expect(m.expiry === undefined || isUint(m.expiry)).toBe(true);
  expect(typeof m.protocol === 'string' && m.protocol.length >= 1).toBe(true);
  expect(m.protocol.length).toBeLessThanOrEqual(MAX_PROTOCOL_LENGTH);
  expect(isPlain(m.body)).toBe(true);
  expect(m.sig === undefined || (m.sig instanceof Uint8Array && m.sig.length === 64)).toBe(true);
}

function checkAdvertCommon(a: { version: number; created: number; sig: Uint8Array }): void {
  expect(isUint(a.version) && isUint(a.created)).toBe(true);
  expect(a.sig instanceof Uint8Array && a.sig.length === 64).toBe(true);
}

/** The declared result type of each frame tag. */
const checkByTag: Record<number, (value: unknown) => void> = {
  [FrameTag.ConnectRequest]: (v) => checkConnectRequest(v as ConnectRequest),
  [FrameTag.ConnectReply]: (v) => checkConnectReply(v as ConnectReply),
  [FrameTag.Message]: (v) => checkWireMessage(v as WireMessage),
  [FrameTag.NodeAdvert]: (v) => {
    const a = v as ReturnType<typeof nodeAdvertFromWire>;
    checkAdvertCommon(a);
    expect(isKeyText(a.id)).toBe(true);
    expect(a.addrs.length).toBeLessThanOrEqual(16);
    for (const x of a.addrs) expect(typeof x.url === 'string' && isUint(x.weight, 255)).toBe(true);
  },
  [FrameTag.Ping]: (v) => expect(isUint(v)).toBe(true),
  [FrameTag.Pong]: (v) => expect(isUint(v)).toBe(true),
  [FrameTag.Goodbye]: (v) => {
    const g = v as { code: unknown; reason: unknown };
    expect(typeof g.code === 'string' && typeof g.reason === 'string').toBe(true);
  },
};
const tags = Object.values(FrameTag);
const anyTag = fc.integer({ min: 0, max: 255 });

function decodeTagged(tag: number, body: Uint8Array): void {
  decodesOrRejects(
    () => decodeFrameBody(tag, body),
    (value) => {
      const check = checkByTag[tag];
      expect(check, `tag ${tag} decoded`).toBeDefined();
      check!(value);
    },
  );
}

/** A valid encoded body for each tag, to damage. */
const validBody: fc.Arbitrary<{ tag: number; body: Buffer }> = fc.oneof(
  connectRequest.map((r) => ({ tag: FrameTag.ConnectRequest, body: pack(encodeConnectRequest(r)) })),
  connectReply.map((r) => ({ tag: FrameTag.ConnectReply, body: pack(encodeConnectReply(r)) })),
  fc
    .tuple(linkMessage, keyPair)
    .map(([m, key]) => ({ tag: FrameTag.Message, body: pack(messageToWire(signMessage(key, m))) })),
  fc.tuple(keyPair, fc.nat({ max: 1000 })).map(([key, version]) => ({
    tag: FrameTag.NodeAdvert,
    body: pack(
      encodeAdvertFrameBody(
        signNodeAdvert(key, {
          addrs: [{ url: 'tls://127.0.0.1:1', weight: 3 }],
          version,
          created: 1,
          name: 'n',
        }),
      ),
    ),
  })),
  fc.maxSafeNat().map((n) => ({ tag: FrameTag.Ping, body: pack(n) })),
  fc
    .tuple(fc.string({ maxLength: 64 }), fc.string({ maxLength: 256 }))
    .map((g) => ({ tag: FrameTag.Goodbye, body: pack(g) })),
);

describe('random input', () => {
  it.prop([anyTag, fc.uint8Array({ maxLength: 300 })])(
    'decodeFrameBody returns the tag’s type or a typed error, for any tag',
    (tag, bytes) => decodeTagged(tag, bytes),
  );

  // Mostly-valid msgpack is far likelier to reach the schema checks than random bytes.
  it.prop([
    fc.constantFrom(...tags),
    fc.anything({ withTypedArray: true, withDate: true, withNullPrototype: true }),
  ])('decodeFrameBody rejects arbitrary msgpack values of the wrong shape', (tag, value) => {
    let body: Buffer;
    try {
      body = pack(value);
    } catch {
      return; // not every JS value packs (e.g. a bigint beyond 64 bits): nothing to feed the decoder
    }
    decodeTagged(tag, body);
  });

  it.prop([
    fc.anything({ withTypedArray: true, withDate: true, withMap: true, withSet: true, withBigInt: true }),
  ])('the frame body decoders accept only their own shapes', (value) => {
    decodesOrRejects(() => decodeConnectRequest(value), checkConnectRequest);
    decodesOrRejects(() => decodeConnectReply(value), checkConnectReply);
    decodesOrRejects(() => decodeWireMessage(value), checkWireMessage);
    decodesOrRejects(() => nodeAdvertFromWire(value), checkAdvertCommon);
    decodesOrRejects(() => decodeGoodbye(value), checkByTag[FrameTag.Goodbye]!);
    decodesOrRejects(() => decodePing(value), checkByTag[FrameTag.Ping]!);
  });

  it.prop([fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), fc.integer({ min: 1, max: 512 })])(
    'FrameDecoder throws only typed errors and never holds more than one frame',
    (chunks, maxFrameSize) => {
      const decoder = new FrameDecoder((_tag, body) => {
        expect(body.length).toBeLessThan(maxFrameSize);
      }, maxFrameSize);
      try {
        for (const chunk of chunks) {
          decoder.push(Buffer.from(chunk));
          expect(decoder.bufferedBytes).toBeLessThan(maxFrameSize + 4);
        }
      } catch (error) {
        expect(error).toBeInstanceOf(NetmachineError);
      }
    },
  );
});

describe('damaged valid input', () => {
  it.prop([validBody, mutation])('decodeFrameBody returns the tag’s type or a typed error', (valid, m) => {
    decodeTagged(valid.tag, applyMutation(valid.body, m));
  });

  it.prop([validBody, fc.nat(), fc.constantFrom(...HOSTILE_FRAGMENTS)])(
    'msgpackr extensions spliced in anywhere never reach the caller',
    (valid, at, fragment) => {
      decodeTagged(valid.tag, applyMutation(valid.body, { kind: 'splice', at, fragment }));
    },
  );

  it.prop([fc.array(validBody, { minLength: 1, maxLength: 4 }), mutation, fc.integer({ min: 1, max: 64 })])(
    'a damaged frame stream yields typed errors only, however it is chunked',
    (bodies, m, chunkSize) => {
      const stream = applyMutation(Buffer.concat(bodies.map((b) => encodeFrame(b.tag, unpack(b.body)))), m);
      const decoder = new FrameDecoder((tag, body) => decodeTagged(tag, body), 4096);
      try {
        for (let i = 0; i < stream.length; i += chunkSize) decoder.push(stream.subarray(i, i + chunkSize));
      } catch (error) {
        expect(error).toBeInstanceOf(NetmachineError);
      }
    },
  );

  it.prop([linkMessage, keyPair, mutation])(
    'a damaged signed message never verifies unless it decodes to the same message',
    (message, key, m) => {
      const signed = signMessage(key, { ...message, src: { ...message.src, node: key.id } });
      const body = applyMutation(pack(messageToWire(signed)), m);
      decodesOrRejects(
        () => decodeFrameBody(FrameTag.Message, body) as WireMessage,
        (wire) => {
          const rebuilt = messageFromWire(wire, signed.src.node, message.dst.node);
          if (verifyMessage(rebuilt)) expect(normalise(rebuilt)).toEqual(normalise(signed));
        },
      );
    },
  );
});

describe('frame size limits', () => {
  it.prop([fc.integer({ min: DEFAULT_MAX_FRAME_SIZE + 1, max: 0xffffffff }), fc.integer({ min: 0, max: 4 })])(
    'any announced length above the maximum is refused from the header, whatever follows',
    (length, split) => {
      const header = Buffer.alloc(4);
      header.writeUInt32BE(length, 0);
      const decoder = new FrameDecoder(() => {
        throw new Error('no frame expected');
      });
      let error: unknown;
      try {
        decoder.push(header.subarray(0, split));
        decoder.push(header.subarray(split));
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE', size: length });
      expect(decoder.bufferedBytes).toBe(0);
    },
  );

  it.prop([plainValue])('valid plain bodies always pass the body check', (value) => {
    const wire = [1, 'a', 'b', null, null, 'p', value, null];
    expect(() => decodeFrameBody(FrameTag.Message, pack(wire))).not.toThrow();
  });
});
