import { fc, it } from '@fast-check/vitest';
import {
  EncodedBody,
  type EngineMessage,
  MAX_BODY_DEPTH,
  type NodeId,
  pack,
  signMessage,
  unpack,
  verifyMessage,
} from '@netmachine/core';
import { describe, expect, vi } from 'vitest';
import {
  decodeWireMessage,
  encodeFrame,
  FRAME_HEADER_BYTES,
  FrameSlab,
  FrameTag,
  messageFromWire,
  messageToWire,
  packPlain,
} from '../../src/wire/index.js';
import { LinkAddresses } from '../../src/wire/link-addresses.js';
import { decodeMessageAt, decodeMessageBody } from '../../src/wire/message-frame.js';
import { NOT_DIRECT, readPlainDirect } from '../../src/wire/plain-reader.js';
import { applyMutation, engineName, keyPair, linkMessage, mutation, plainValue } from './arbitraries.js';
import { normalise } from './helpers.js';
import { plainMessage } from './slab-fixtures.js';

vi.setConfig({ testTimeout: 180_000 });

const MAX = 16 * 1024 * 1024;

/** The body (after length and tag) of the one frame `message` encodes to in a fresh slab. */
function slabBody(message: EngineMessage): Buffer {
  const slab = new FrameSlab();
  slab.appendMessage(message, MAX);
  const frame = slab.take()!;
  expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
  expect(frame[4]).toBe(FrameTag.Message);
  return frame.subarray(FRAME_HEADER_BYTES);
}

/** What the general decoder makes of `body`: a value, or the class and message of its error. */
function general(body: Buffer): unknown {
  try {
    return { value: normalise(decodeWireMessage(unpack(body))) };
  } catch (error) {
    return { error: (error as Error).constructor.name, message: (error as Error).message };
  }
}

function direct(body: Buffer): unknown {
  try {
    return { value: normalise(decodeMessageBody(body)) };
  } catch (error) {
    return { error: (error as Error).constructor.name, message: (error as Error).message };
  }
}

/** Messages in the shape the hot path reads directly: short names, ASCII protocol, bytes as body. */
const commonMessage = fc.record(
  {
    id: fc.maxSafeNat(),
    src: fc.record({ node: fc.constant('n1'), name: engineName }),
    dst: fc.record({ node: fc.constant('n2'), name: engineName }),
    replyTo: fc.maxSafeNat(),
    expiry: fc.maxSafeNat(),
    protocol: fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme-ascii' }),
    body: fc.uint8Array({ maxLength: 70_000 }),
    sig: fc.uint8Array({ minLength: 64, maxLength: 64 }),
  },
  { requiredKeys: ['id', 'src', 'dst', 'protocol', 'body'] },
) as fc.Arbitrary<EngineMessage>;

describe('FrameSlab message encoding', () => {
  it.prop([linkMessage])('decodes, by the general decoder, to the message it encoded', (message) => {
    const wire = decodeWireMessage(unpack(slabBody(message)));
    const rebuilt = messageFromWire(wire, message.src.node, message.dst.node);
    expect(normalise(rebuilt)).toEqual(normalise({ ...message, sig: undefined }));
  });

  it.prop([commonMessage])('carries signatures and large byte bodies intact', (message) => {
    const wire = decodeWireMessage(unpack(slabBody(message)));
    expect(normalise(wire.body)).toEqual(normalise(message.body));
    expect(normalise(wire.sig)).toEqual(normalise(message.sig));
  });

  it.prop([fc.array(commonMessage, { minLength: 1, maxLength: 40 }), fc.integer({ min: 64, max: 4096 })])(
    'frames every message of a stream in order across slab boundaries',
    (messages, slabBytes) => {
      const slab = new FrameSlab(slabBytes);
      const taken: Buffer[] = [];
      messages.forEach((message, i) => {
        slab.appendMessage(message, MAX);
        if (i % 3 === 2) taken.push(slab.take()!);
      });
      const rest = slab.take();
      if (rest !== undefined) taken.push(rest);
      expect(slab.pendingBytes).toBe(0);
      const stream = Buffer.concat(taken);
      let offset = 0;
      for (const message of messages) {
        const length = stream.readUInt32BE(offset);
        const body = stream.subarray(offset + FRAME_HEADER_BYTES, offset + 4 + length);
        expect(decodeWireMessage(unpack(body)).id).toBe(message.id);
        offset += 4 + length;
      }
      expect(offset).toBe(stream.length);
    },
  );
});

describe('decodeMessageBody', () => {
  it.prop([commonMessage])('reads what the slab writes exactly as the general decoder does', (message) => {
    const body = slabBody(message);
    const result = direct(body);
    expect(result).toEqual(general(body));
    expect(result).toHaveProperty('value');
  });

  it.prop([linkMessage])('agrees with the general decoder on msgpackr-encoded messages', (message) => {
    const body = encodeFrame(FrameTag.Message, messageToWire(message)).subarray(FRAME_HEADER_BYTES);
    expect(direct(body)).toEqual(general(body));
  });

  it.prop([fc.oneof(commonMessage, linkMessage as fc.Arbitrary<EngineMessage>), mutation], { numRuns: 1000 })(
    'gives the same value or the same typed error as the general decoder on damaged bytes',
    (message, damage) => {
      const body = applyMutation(slabBody(message), damage);
      expect(direct(body)).toEqual(general(body));
    },
  );
});

describe('decodeMessageAt', () => {
  const peer = 'n1' as NodeId;
  const local = 'n2' as NodeId;

  /** The message a link reads from `body` placed `offset` bytes into a larger buffer, or its error. */
  function inPlace(body: Buffer, offset: number, addresses: LinkAddresses): unknown {
    const buffer = Buffer.alloc(offset + body.length + 7, 0xc1);
    body.copy(buffer, offset);
    try {
      return { value: normalise(decodeMessageAt(buffer, offset, offset + body.length, addresses)) };
    } catch (error) {
      return { error: (error as Error).constructor.name, message: (error as Error).message };
    }
  }

  /** What a link made of `body` before: the general decoder's wire message, as a message. */
  function viaWire(body: Buffer): unknown {
    try {
      return { value: normalise(messageFromWire(decodeMessageBody(body), peer, local)) };
    } catch (error) {
      return { error: (error as Error).constructor.name, message: (error as Error).message };
    }
  }

  it.prop([fc.oneof(commonMessage, linkMessage as fc.Arbitrary<EngineMessage>), fc.nat(40), mutation], {
    numRuns: 1000,
  })(
    'reads a frame in place as the message, or the typed error, the wire decoder gives',
    (message, offset, damage) => {
      const addresses = new LinkAddresses(peer, local);
      const body = slabBody(message);
      expect(inPlace(body, offset, addresses)).toEqual(viaWire(body));
      const damaged = applyMutation(body, damage);
      expect(inPlace(damaged, offset, addresses)).toEqual(viaWire(damaged));
    },
  );

  it('shares one address object per name and side, and bounds how many it keeps', () => {
    const addresses = new LinkAddresses(peer, local);
    const first = addresses.src('a');
    expect(addresses.dst('a')).toEqual({ node: local, name: 'a' });
    expect(addresses.src('b')).toEqual({ node: peer, name: 'b' });
    expect(addresses.src('a')).toBe(first);
    for (let i = 0; i < 1000; i++) addresses.src(`name-${i}`);
    expect(addresses.src('a')).toEqual({ node: peer, name: 'a' });
  });
});

describe('readPlainDirect', () => {
  /** msgpackr's reading of `bytes`, or undefined when it fails. */
  const viaMsgpackr = (bytes: Buffer): { value: unknown } | undefined => {
    try {
      return { value: normalise(unpack(bytes)) };
    } catch {
      return undefined;
    }
  };
  const viaDirect = (bytes: Buffer): { value: unknown } | undefined => {
    const r = { pos: 0 };
    const value = readPlainDirect(bytes, r, bytes.length, MAX_BODY_DEPTH);
    return value === NOT_DIRECT || r.pos !== bytes.length ? undefined : { value: normalise(value) };
  };

  it.prop([plainValue])('reads what msgpackr reads, or leaves it to msgpackr', (value) => {
    const bytes = pack(value);
    const direct = viaDirect(bytes);
    if (direct !== undefined) expect(direct).toEqual(viaMsgpackr(bytes));
  });

  it.prop([plainValue, mutation], { numRuns: 1000 })(
    'never reads damaged bytes differently',
    (value, damage) => {
      const bytes = applyMutation(pack(value), damage);
      const direct = viaDirect(bytes);
      if (direct !== undefined) expect(direct).toEqual(viaMsgpackr(bytes));
    },
  );

  it('reads arrays of scalars, ASCII strings and bytes itself', () => {
    const value = [
      'topic',
      'x'.repeat(52),
      1,
      -1,
      300,
      -300,
      70_000,
      2.5,
      null,
      true,
      false,
      Buffer.from([1, 2]),
    ];
    expect(viaDirect(pack(value))).toEqual({ value: normalise(value) });
    // What the slab writes for large integers (uint64) is read directly too.
    expect(viaDirect(packPlain(value))).toEqual({ value: normalise(value) });
  });
});

describe('packPlain', () => {
  it.prop([plainValue])('encodes a value msgpackr decodes to what msgpackr itself would give', (value) => {
    expect(normalise(unpack(packPlain(value)))).toEqual(normalise(unpack(pack(value))));
  });

  it.prop([
    fc.array(fc.oneof(fc.double(), fc.integer(), fc.maxSafeInteger(), fc.string({ maxLength: 300 }))),
  ])('keeps every number and string exact, whatever its size', (values) => {
    expect(unpack(packPlain(values))).toEqual(values.map((v) => (Object.is(v, -0) ? 0 : v)));
  });
});

describe('EncodedBody', () => {
  it.prop([linkMessage, keyPair])(
    'is written as its bytes, and signs and verifies as the value it encodes',
    (message, key) => {
      const src = { ...message.src, node: key.id };
      const encoded = { ...message, src, body: new EncodedBody(pack(message.body)) };
      // What a strict link does: sign, then encode into the slab; the receiver decodes and verifies.
      const signed = signMessage(key, encoded);
      const wire = decodeMessageBody(slabBody(signed));
      const received = messageFromWire(wire, src.node, message.dst.node);
      expect(normalise(received.body)).toEqual(normalise(message.body));
      expect(verifyMessage(received)).toBe(true);
      expect(normalise(messageToWire(encoded)[6])).toEqual(normalise(message.body));
    },
  );
});

describe('EncodedBody with a last element', () => {
  it.prop([fc.array(plainValue, { maxLength: 14 }), fc.maxSafeNat()])(
    'is the shared array followed by its own number, in the slab and as a value',
    (items, last) => {
      const shared = Buffer.from(pack(items));
      shared[0] = 0x90 + items.length + 1;
      const body = new EncodedBody(shared, last);
      expect(normalise(body.value)).toEqual(normalise([...items, last]));
      const message: EngineMessage = {
        id: 1,
        src: { node: 'a' as NodeId, name: 's' },
        dst: { node: 'b' as NodeId, name: 'd' },
        replyTo: undefined,
        expiry: undefined,
        protocol: 'p',
        body,
        sig: undefined,
      };
      expect(normalise(decodeMessageBody(slabBody(message)).body)).toEqual(normalise([...items, last]));
    },
  );
});

describe('FrameSlab', () => {
  const base = plainMessage;

  it('never writes again into a buffer it has handed out', () => {
    const slab = new FrameSlab(256);
    slab.appendMessage(base, MAX);
    const first = slab.take()!;
    const copy = Buffer.from(first);
    for (let i = 0; i < 50; i++) slab.appendMessage({ ...base, id: i + 2 }, MAX);
    slab.take();
    expect(first.equals(copy)).toBe(true);
  });

  it('keeps no large slab once a large frame has been taken', () => {
    const slab = new FrameSlab(4096);
    slab.appendMessage({ ...base, body: new Uint8Array(100_000) }, MAX);
    const big = slab.take()!;
    expect(big.length).toBeGreaterThan(100_000);
    // The next small frame goes into a new, small slab: the large one is no longer referenced.
    slab.appendMessage(base, MAX);
    const small = slab.take()!;
    expect(small.buffer).not.toBe(big.buffer);
    expect(small.buffer.byteLength).toBeLessThanOrEqual(4096);
  });

  it('refuses a frame over the maximum and appends nothing', () => {
    const slab = new FrameSlab();
    expect(() => slab.appendMessage({ ...base, body: new Uint8Array(2000) }, 1000)).toThrow(
      expect.objectContaining({ code: 'ERR_FRAME_TOO_LARGE' }),
    );
    expect(() => slab.appendMessage({ ...base, body: { big: 'x'.repeat(990) } }, 1000)).toThrow(
      expect.objectContaining({ code: 'ERR_FRAME_TOO_LARGE' }),
    );
    expect(slab.pendingBytes).toBe(0);
    expect(slab.take()).toBeUndefined();
  });

  it.each([
    ['a fractional id', { id: 1.5 }],
    ['a negative replyTo', { replyTo: -1 }],
    ['an unsafe expiry', { expiry: 2 ** 60 }],
    ['a topic destination', { dst: { topic: 't' } }],
  ])('refuses %s with a SchemaError and appends nothing', (_what, change) => {
    const slab = new FrameSlab();
    expect(() => slab.appendMessage({ ...base, ...change } as EngineMessage, MAX)).toThrow(
      expect.objectContaining({ code: 'ERR_SCHEMA' }),
    );
    expect(slab.pendingBytes).toBe(0);
  });

  it('copies other frames in, in order with messages', () => {
    const slab = new FrameSlab(64);
    const ping = encodeFrame(FrameTag.Ping, 7);
    slab.appendFrame(ping);
    slab.appendMessage(base, MAX);
    slab.appendFrame(ping);
    const stream = slab.take()!;
    expect(stream.subarray(0, ping.length).equals(ping)).toBe(true);
    expect(stream.subarray(stream.length - ping.length).equals(ping)).toBe(true);
  });

  it('keeps a non-ASCII protocol and string body intact', () => {
    const message = { ...base, protocol: 'prøtocol-✓', body: 'héllo wörld '.repeat(20) };
    const wire = decodeMessageBody(slabBody(message));
    expect(wire.protocol).toBe(message.protocol);
    expect(wire.body).toBe(message.body);
  });
});
