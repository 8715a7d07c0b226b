import { type KeyPair, pack, signNodeAdvert, unpack } from '@netmachine/core';
import {
  decodeConnectRequest,
  decodeLinkFrame,
  encodeFrame,
  encodeRawFrame,
  FrameDecoder,
  FrameTag,
} from '@netmachine/transport/wire';

/**
 * Malformed frames for the live fuzzer, from a seeded generator so that a failure can be replayed.
 * Every frame is checked against the stage it is sent at (handshake or open link) with the same
 * decoding the node does: a frame that would be accepted is not malformed and is not sent.
 */

export type FuzzKind =
  | 'random-bytes'
  | 'truncated-body'
  | 'oversized-length'
  | 'zero-length'
  | 'wrong-shape'
  | 'unknown-tag'
  | 'huge-array-header'
  | 'huge-string'
  | 'deep-nesting'
  | 'wrong-stage';

export const FUZZ_KINDS: readonly FuzzKind[] = [
  'random-bytes',
  'truncated-body',
  'oversized-length',
  'zero-length',
  'wrong-shape',
  'unknown-tag',
  'huge-array-header',
  'huge-string',
  'deep-nesting',
  'wrong-stage',
];

/** A small, fast, seedable PRNG (mulberry32): the fuzz run is reproducible from its seed. */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

const RETIRED_RELAYED_TAG = 0x08;

const KNOWN_TAGS = [
  FrameTag.ConnectRequest,
  FrameTag.ConnectReply,
  FrameTag.Message,
  FrameTag.NodeAdvert,
  FrameTag.Ping,
  FrameTag.Pong,
  FrameTag.Goodbye,
  // The retired third-party frame (`[srcNode, message]`): now an unknown frame type.
  RETIRED_RELAYED_TAG,
];

function randomValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(depth > 2 ? 6 : 9)) {
    case 0:
      return rng.int(2 ** 31) - 2 ** 30;
    case 1:
      return rng.bytes(rng.int(40)).toString('latin1');
    case 2:
      return rng.bytes(rng.int(64));
    case 3:
      return null;
    case 4:
      return rng.next() < 0.5;
    case 5:
      return rng.next() * 1e9;
    case 6:
    case 7:
      return Array.from({ length: rng.int(10) }, () => randomValue(rng, depth + 1));
    default: {
      const map: Record<string, unknown> = {};
      for (let i = rng.int(5); i > 0; i--) map[`k${rng.int(100)}`] = randomValue(rng, depth + 1);
      return map;
    }
  }
}

/** A message array with one field replaced by something of the wrong type. */
function almostMessage(rng: Rng): unknown[] {
  const good: unknown[] = [rng.int(1000), 'echo', 'echo', null, null, 'fuzz/1', 'body', null];
  const field = rng.int(8);
  const wrong: unknown[] = [-1, 1.5, '', 'no such/name!', 'x'.repeat(300), rng.bytes(7), { a: 1 }, [1, [2]]];
  good[field] = rng.pick(wrong);
  if (field === 6) good[7] = rng.bytes(63); // keep it malformed: a signature of the wrong length
  return rng.next() < 0.2 ? good.slice(0, rng.int(8)) : good;
}

function wrongShape(rng: Rng, stage: Stage): Buffer {
  const tag = stage === 'handshake' ? FrameTag.ConnectRequest : rng.pick(KNOWN_TAGS.slice(2));
  const body =
    tag === FrameTag.Message
      ? almostMessage(rng)
      : tag === RETIRED_RELAYED_TAG
        ? [rng.bytes(rng.pick([0, 31, 33])), almostMessage(rng)]
        : randomValue(rng);
  return encodeFrame(tag, body);
}

export type Stage = 'handshake' | 'open';

/** Builds one candidate frame of `kind` (not yet checked). */
function candidate(rng: Rng, kind: FuzzKind, stage: Stage, advertKey: KeyPair): Buffer {
  switch (kind) {
    case 'random-bytes':
      return rng.bytes(1 + rng.int(200));
    case 'truncated-body': {
      const full = encodeFrame(
        rng.pick(KNOWN_TAGS),
        rng.next() < 0.5
          ? almostMessage(rng)
          : [signNodeAdvert(advertKey, { addrs: [], version: 1 + rng.int(1000), created: Date.now() })],
      );
      // Cut the body short and say so in the length prefix: the msgpack inside ends early.
      const cut = 6 + rng.int(Math.max(1, full.length - 7));
      const out = Buffer.from(full.subarray(0, cut));
      out.writeUInt32BE(cut - 4, 0);
      return out;
    }
    case 'oversized-length': {
      const out = Buffer.allocUnsafe(4 + 1 + rng.int(16));
      out.writeUInt32BE(16 * 1024 * 1024 + 1 + rng.int(2 ** 31), 0);
      rng.bytes(out.length - 4).copy(out, 4);
      return out;
    }
    case 'zero-length':
      return Buffer.concat([Buffer.alloc(4), rng.bytes(rng.int(8))]);
    case 'wrong-shape':
      return wrongShape(rng, stage);
    case 'unknown-tag':
      return encodeFrame(rng.pick([0, 9, 10, 0x7f, 0x80, 0xff]), randomValue(rng));
    case 'huge-array-header': {
      // array32 / map32 / str32 / bin32 headers announcing gigabytes inside a tiny frame.
      const header = Buffer.alloc(5);
      header[0] = rng.pick([0xdd, 0xdf, 0xdb, 0xc6]);
      header.writeUInt32BE(0xffffffff - rng.int(1000), 1);
      const wrapped = rng.next() < 0.5 ? header : Buffer.concat([Buffer.of(0x98), header]);
      return encodeRawFrame(rng.pick(KNOWN_TAGS), Buffer.concat([wrapped, rng.bytes(rng.int(16))]));
    }
    case 'huge-string': {
      const size = 64 * 1024 + rng.int(512 * 1024);
      const message = [1, 'echo', 'echo', null, null, 'p'.repeat(size), 'b', null];
      return encodeFrame(stage === 'handshake' ? FrameTag.ConnectRequest : FrameTag.Message, message);
    }
    case 'deep-nesting': {
      const depth = 65 + rng.int(20_000);
      const body = Buffer.concat([Buffer.from(pack([1, 'echo', 'echo', null, null, 'deep/1'])).subarray(1)]);
      // fixarray(8) header, six fields, then `depth` nested one-element arrays as the body, then null sig.
      const nested = Buffer.alloc(depth + 1, 0x91);
      nested[depth] = 0xc0;
      return encodeRawFrame(
        stage === 'handshake' ? FrameTag.ConnectRequest : FrameTag.Message,
        Buffer.concat([Buffer.of(0x98), body, nested, Buffer.of(0xc0)]),
      );
    }
    case 'wrong-stage':
      return stage === 'handshake'
        ? encodeFrame(rng.pick([FrameTag.Message, FrameTag.Ping, FrameTag.ConnectReply]), randomValue(rng))
        : encodeFrame(rng.pick([FrameTag.ConnectRequest, FrameTag.ConnectReply]), randomValue(rng));
  }
}

/** True when the node, at `stage`, must reject these bytes (the decoding the node itself does). */
export function isRejected(bytes: Buffer, stage: Stage): boolean {
  let rejected = false;
  let complete = false;
  const decoder = new FrameDecoder((tag, body) => {
    if (complete) return;
    complete = true;
    if (stage === 'handshake') {
      if (tag !== FrameTag.ConnectRequest) rejected = true;
      else decodeConnectRequest(unpack(body));
      return;
    }
    if (tag === FrameTag.ConnectRequest || tag === FrameTag.ConnectReply) rejected = true;
    else decodeLinkFrame(tag, body);
  });
  try {
    decoder.push(bytes);
  } catch {
    return true;
  }
  return rejected;
}

/**
 * The next malformed frame of `kind` for `stage`. Candidates that the node would accept (a random
 * byte string that happens to be a well-formed Ping, say) are counted in `skipped` and replaced.
 */
export function malformedFrame(
  rng: Rng,
  kind: FuzzKind,
  stage: Stage,
  advertKey: KeyPair,
  skipped: { count: number },
): Buffer {
  for (;;) {
    const bytes = candidate(rng, kind, stage, advertKey);
    if (isRejected(bytes, stage)) return bytes;
    skipped.count++;
  }
}
