import { fc, it as prop } from '@fast-check/vitest';
import { KeyPair, type NodeId } from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import {
  isBucketSize,
  MalformedRelayMessageError,
  PADDING_BUCKETS,
  paddedSize,
  RelayDecryptError,
  RelayMessageExpiredError,
  RelayOpener,
  RelayReplayError,
  RelaySealer,
  RelaySessionRateError,
  RelaySessionSignatureError,
  recordBounds,
  SEALED_HEADER_BYTES,
} from '../src/index.js';

const alice = KeyPair.generate();
const carol = KeyPair.generate();
const mallory = KeyPair.generate();
const A = alice.id as NodeId;
const C = carol.id as NodeId;
const M = mallory.id as NodeId;
const flip = (bytes: Buffer, at: number): void => {
  bytes[at] = (bytes[at] as number) ^ 1;
};
const soon = (): number => Date.now() + 60_000;

describe('RelaySealer / RelayOpener', () => {
  it('opens what the source sealed, padded to a bucket size', () => {
    const sealer = new RelaySealer(alice);
    const opener = new RelayOpener(carol);
    const inner = Buffer.from('hello carol');
    const expiry = soon();
    const sealed = sealer.seal(C, inner, expiry);
    expect(isBucketSize(sealed.length)).toBe(true);
    expect(sealed.length).toBe(256);
    expect(sealed.includes(inner)).toBe(false);
    expect(Buffer.from(opener.open(A, sealed, expiry))).toEqual(inner);
  });

  it('seals the next batch into a sealed buffer handed back, and keeps no small one', () => {
    const sealer = new RelaySealer(alice);
    const opener = new RelayOpener(carol);
    const expiry = soon();
    const first = sealer.sealMany(C, [Buffer.alloc(10_000, 1)], expiry);
    expect(first.length).toBe(16_384);
    const firstBytes = Buffer.from(first);
    sealer.recycle(first);
    const second = sealer.sealMany(C, [Buffer.alloc(9_000, 2)], expiry);
    // The same memory, sealed anew: a new counter, and both open to what was sealed into them.
    expect(second.buffer).toBe(first.buffer);
    expect(second.equals(firstBytes)).toBe(false);
    expect(Buffer.from(opener.open(A, firstBytes, expiry))).toEqual(Buffer.alloc(10_000, 1));
    expect(Buffer.from(opener.open(A, second, expiry))).toEqual(Buffer.alloc(9_000, 2));
    // A small one is a slice of a shared pool: handing it back keeps nothing (no seal writes into it).
    const small = sealer.seal(C, Buffer.from('small'), expiry);
    sealer.recycle(small);
    const next = sealer.seal(C, Buffer.from('small'), expiry);
    expect(next.buffer === small.buffer && next.byteOffset === small.byteOffset).toBe(false);
  });

  it('seals several messages into one RelayMessage and opens them in order', () => {
    const sealer = new RelaySealer(alice);
    const opener = new RelayOpener(carol);
    const inners = [Buffer.from('first'), Buffer.alloc(300, 7), Buffer.from('third')];
    const expiry = soon();
    const sealed = sealer.sealMany(C, inners, expiry);
    expect(sealed.length).toBe(512);
    expect(opener.openMany(A, sealed, expiry).map((m) => Buffer.from(m))).toEqual(inners);
    // One message alone is laid out exactly as `seal` lays it out.
    const one = sealer.sealMany(C, [Buffer.from('solo')], expiry);
    expect(opener.openMany(A, one, expiry).map((m) => Buffer.from(m).toString())).toEqual(['solo']);
    expect(() => sealer.sealMany(C, [], expiry)).toThrow(RangeError);
    expect(() => sealer.sealMany(C, [Buffer.from('a'), Buffer.alloc(0)], expiry)).toThrow(RangeError);
  });

  it('opens to a plaintext whose record bounds are the messages, sealed from parts in one or many calls', () => {
    const sealer = new RelaySealer(alice);
    const opener = new RelayOpener(carol);
    const expiry = soon();
    // Records as a source lays them out (`u32 length ‖ record`), in parts that split records, for a
    // plaintext that fits the scratch buffer (an 8 KiB bucket) and one that does not (128 KiB).
    for (const size of [3000, 40_000]) {
      const inners = [Buffer.alloc(size, 1), Buffer.from('second'), Buffer.alloc(size, 3)];
      const framed = Buffer.concat(
        inners.flatMap((inner) => [Buffer.from(Uint32Array.of(inner.length).buffer).reverse(), inner]),
      );
      const parts = [framed.subarray(0, 7), framed.subarray(7, size + 9), framed.subarray(size + 9)];
      const sealed = sealer.sealRecords(C, parts, expiry);
      const plaintext = opener.openPlaintext(A, sealed, expiry);
      const bounds = recordBounds(plaintext);
      const records: Buffer[] = [];
      for (let i = 0; i < bounds.length; i += 2) records.push(plaintext.subarray(bounds[i], bounds[i + 1]));
      expect(records).toEqual(inners);
    }
    // A length past the end of the plaintext is refused before any record is read.
    const bad = Buffer.alloc(64);
    bad.writeUInt32BE(5, 0);
    bad.writeUInt32BE(1000, 9);
    expect(() => recordBounds(bad)).toThrow(MalformedRelayMessageError);
  });

  it('does one session per destination and reuses it (no public-key work per message)', () => {
    const sealer = new RelaySealer(alice);
    const opener = new RelayOpener(carol);
    const expiry = soon();
    for (let i = 0; i < 50; i++) opener.open(A, sealer.seal(C, Buffer.from([i]), expiry), expiry);
    expect(sealer.sessionsStarted).toBe(1);
    expect(opener.sessionsOpened).toBe(1);
  });

  it('rotates the session by count and by time', () => {
    let now = 1_000_000;
    const clock = (): number => now;
    const sealer = new RelaySealer(alice, { rotateAfterMessages: 3, rotateAfterMs: 1000, now: clock });
    const opener = new RelayOpener(carol, { now: clock });
    const expiry = now + 60_000;
    for (let i = 0; i < 7; i++) opener.open(A, sealer.seal(C, Buffer.from([i]), expiry), expiry);
    expect(sealer.sessionsStarted).toBe(3);
    now += 1000;
    opener.open(A, sealer.seal(C, Buffer.from([9]), expiry), expiry);
    expect(sealer.sessionsStarted).toBe(4);
    expect(opener.sessionsOpened).toBe(4);
  });

  it('drops a replayed message, and accepts out-of-order ones once', () => {
    const sealer = new RelaySealer(alice);
    const opener = new RelayOpener(carol);
    const expiry = soon();
    const first = sealer.seal(C, Buffer.from('1'), expiry);
    const second = sealer.seal(C, Buffer.from('2'), expiry);
    opener.open(A, second, expiry);
    opener.open(A, first, expiry);
    expect(() => opener.open(A, first, expiry)).toThrow(RelayReplayError);
    expect(() => opener.open(A, second, expiry)).toThrow(RelayReplayError);
  });

  it('uses a cipher made ahead (once the turn is over) only for the counter it was made for, in or out of order', async () => {
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    for (const prepareAhead of [true, false]) {
      const sealer = new RelaySealer(alice, { prepareAhead });
      const opener = new RelayOpener(carol, { prepareAhead });
      const expiry = soon();
      const sealed: Buffer[] = [];
      for (const n of [0, 1, 2, 3, 4]) {
        sealed.push(sealer.seal(C, Buffer.from(`m${n}`), expiry));
        // Two in one turn: the second's cipher is made on the spot; the others' were made ahead.
        if (n !== 0) await turn();
      }
      // In order (each opens with the decipher made after the one before), then a gap, then back.
      const order = [0, 1, 3, 2, 4];
      for (const n of order) {
        expect(Buffer.from(opener.open(A, sealed[n] as Buffer, expiry)).toString()).toBe(`m${n}`);
        await turn();
      }
      // Every nonce went into one cipher: no two sealed messages share a counter.
      const counters = new Set(sealed.map((s) => s.readUInt32BE(SEALED_HEADER_BYTES - 4)));
      expect(counters.size).toBe(sealed.length);
      // A tampered copy of the next message fails, and the genuine one still opens after it.
      const next = sealer.seal(C, Buffer.from('m5'), expiry);
      const forged = Buffer.from(next);
      flip(forged, SEALED_HEADER_BYTES + 3);
      expect(() => opener.open(A, forged, expiry)).toThrow(RelayDecryptError);
      expect(Buffer.from(opener.open(A, next, expiry)).toString()).toBe('m5');
    }
  });

  it('refuses a tampered ciphertext, header or expiry', () => {
    const sealer = new RelaySealer(alice);
    const opener = new RelayOpener(carol);
    const expiry = soon();
    opener.open(A, sealer.seal(C, Buffer.from('session'), expiry), expiry);
    const sealed = sealer.seal(C, Buffer.from('payload'), expiry);
    const body = Buffer.from(sealed);
    flip(body, SEALED_HEADER_BYTES + 3);
    expect(() => opener.open(A, body, expiry)).toThrow(RelayDecryptError);
    expect(() => opener.open(A, sealed, expiry + 1)).toThrow(RelayDecryptError);
    const counter = Buffer.from(sealed);
    flip(counter, SEALED_HEADER_BYTES - 1);
    expect(() => opener.open(A, counter, expiry)).toThrow(RelayDecryptError);
    // A failed attempt does not burn the counter: the genuine message still opens.
    expect(Buffer.from(opener.open(A, sealed, expiry)).toString()).toBe('payload');
  });

  it('binds the session to the source: another node cannot claim it', () => {
    const sealer = new RelaySealer(alice);
    const opener = new RelayOpener(carol);
    const expiry = soon();
    expect(() => opener.open(M, sealer.seal(C, Buffer.from('x'), expiry), expiry)).toThrow(
      RelaySessionSignatureError,
    );
    // Mallory's own session to Carol does not open as Alice's either.
    const forged = new RelaySealer(mallory).seal(C, Buffer.from('x'), expiry);
    expect(() => opener.open(A, forged, expiry)).toThrow(RelaySessionSignatureError);
  });

  it('is sealed to the destination only', () => {
    const sealed = new RelaySealer(alice).seal(C, Buffer.from('x'), soon());
    expect(() => new RelayOpener(mallory).open(A, sealed, soon())).toThrow(RelaySessionSignatureError);
  });

  it('refuses expired messages and sessions that lived too long', () => {
    let now = 5_000_000;
    const clock = (): number => now;
    const sealer = new RelaySealer(alice, { now: clock, rotateAfterMs: 1_000_000 });
    const opener = new RelayOpener(carol, { now: clock, sessionLifetimeMs: 10_000 });
    expect(() => opener.open(A, sealer.seal(C, Buffer.from('x'), now), now)).toThrow(
      RelayMessageExpiredError,
    );
    opener.open(A, sealer.seal(C, Buffer.from('x'), now + 1), now + 1);
    now += 10_001;
    const late = sealer.seal(C, Buffer.from('y'), now + 100);
    expect(() => opener.open(A, late, now + 100)).toThrow(RelayMessageExpiredError);
  });

  it('rate-limits new sessions (each costs public-key work)', () => {
    const opener = new RelayOpener(carol, { newSessionsPerSecond: 2, now: () => 1 });
    const expiry = Number.MAX_SAFE_INTEGER;
    const fresh = (): Buffer => new RelaySealer(alice, { now: () => 1 }).seal(C, Buffer.from('x'), expiry);
    opener.open(A, fresh(), expiry);
    opener.open(A, fresh(), expiry);
    expect(() => opener.open(A, fresh(), expiry)).toThrow(RelaySessionRateError);
  });

  it('keeps a bounded number of sessions', () => {
    const opener = new RelayOpener(carol, { maxSessions: 3 });
    const expiry = soon();
    for (let i = 0; i < 10; i++)
      opener.open(A, new RelaySealer(alice).seal(C, Buffer.from('x'), expiry), expiry);
    expect(opener.sessions).toBe(3);
  });

  it('refuses malformed input with a typed error', () => {
    const opener = new RelayOpener(carol);
    expect(() => opener.open(A, new Uint8Array(10), soon())).toThrow(MalformedRelayMessageError);
    const wrongVersion = new RelaySealer(alice).seal(C, Buffer.from('x'), soon());
    wrongVersion[0] = 9;
    expect(() => opener.open(A, wrongVersion, soon())).toThrow(MalformedRelayMessageError);
  });
});

describe('properties', () => {
  const sealer = new RelaySealer(alice);
  const opener = new RelayOpener(carol);
  const expiry = Date.now() + 3_600_000;

  prop.prop([fc.uint8Array({ maxLength: 70_000 })], { numRuns: 60 })('round trip, bucket-sized', (inner) => {
    const sealed = sealer.seal(C, inner, expiry);
    expect(isBucketSize(sealed.length)).toBe(true);
    expect(sealed.length).toBe(paddedSize(inner.length + 142));
    expect(Buffer.from(opener.open(A, sealed, expiry))).toEqual(Buffer.from(inner));
  });

  prop.prop([fc.uint8Array({ minLength: 1, maxLength: 600 }), fc.nat(), fc.integer({ min: 1, max: 255 })], {
    numRuns: 100,
  })('any single-byte change is refused with a typed error, never a crash', (inner, at, flip) => {
    const sealed = sealer.seal(C, inner, expiry);
    const changed = Buffer.from(sealed);
    const i = at % changed.length;
    changed[i] = (changed[i] as number) ^ flip;
    expect(() => opener.open(A, changed, expiry)).toThrow(
      /relay message|relay session|too many new relay sessions/,
    );
  });

  prop.prop([fc.uint8Array({ maxLength: 400 })], { numRuns: 100 })('random bytes never open', (bytes) => {
    expect(() => opener.open(A, bytes, expiry)).toThrow();
  });

  it('buckets are ordered powers of two', () => {
    expect(PADDING_BUCKETS.every((b, i) => i === 0 || b === 2 * (PADDING_BUCKETS[i - 1] as number))).toBe(
      true,
    );
    expect(paddedSize(65537)).toBe(131072);
  });
});
