import { type CipherGCM, createCipheriv } from 'node:crypto';
import type { KeyPair, NodeId } from '@netmachine/core';
import { AfterTurn } from './after-turn.js';
import { paddedSize } from './padding.js';
import {
  AAD_BYTES,
  additionalData,
  CIPHER,
  LENGTH_BYTES,
  nonceOf,
  OFF_COUNTER,
  SEALED_HEADER_BYTES,
  TAG_BYTES,
  writeU64,
} from './sealed-format.js';
import {
  type MontgomeryKeys,
  montgomeryKeys,
  type SenderSession,
  startSenderSession,
} from './session-keys.js';

/*
 * The source's side of relay sealing: one rotating session per destination (its key exchange is in
 * session-keys.ts), then one AEAD per batch. The per-batch path is `sealRecords`, kept in one method
 * with its scratch buffers so a batch costs one cipher call and one output buffer.
 */

export interface SealerOptions {
  /** A session is replaced after this many messages (default 1,000,000; at most 2^32 - 1). */
  rotateAfterMessages?: number;
  /** A session is replaced after this long, in ms (default 10 minutes). */
  rotateAfterMs?: number;
  /** Sessions kept (one per destination), oldest dropped first (default 4096). */
  maxSessions?: number;
  /**
   * Makes each session's next cipher ahead of its next message (default false): once the sealed
   * message has gone (`setImmediate`, after the link's write), not on its way. Off by default: on a
   * machine where the processes of a relayed exchange share CPUs, the peer woken by that write often
   * waits for this process to finish its turn, so work after the write delays the message more than
   * the same work before it (relayed request p50: 213 µs with it, 170–180 µs without).
   */
  prepareAhead?: boolean;
  now?: () => number;
}

const ZEROS = Buffer.alloc(65536);
/**
 * Plaintexts up to this size (a full batch's bucket and more) are laid out in a scratch buffer and
 * encrypted in one call: one cipher call and one output buffer cost more than copying the parts
 * (for a 16 KiB batch in 1–3 parts plus padding: about 15 µs against 19 µs in parts).
 */
const SCRATCH_PLAINTEXT = 65536;
/**
 * Sealed buffers kept per bucket size for the next batches, once the link has copied them into its
 * frame (`recycle`): a fresh 16 KiB buffer per batch is external memory that drives full collections.
 */
const SPARE_SEALED_PER_SIZE = 16;
/** Sealed buffers from this size on are not kept (a rare large message). */
const MAX_SPARE_SEALED_BYTES = 65536;
/**
 * Sealed buffers from this size on are kept for reuse; smaller ones are slices of Node's shared
 * buffer pool, cheaper to take than to hand back (a lone message's path stays as it was).
 */
export const MIN_RECYCLED_SEALED_BYTES = 4096;

/** `length` zero bytes (a view of a shared zero buffer up to 64 KiB). */
function zeros(length: number): Buffer {
  return length <= ZEROS.length ? ZEROS.subarray(0, length) : Buffer.alloc(length);
}

/** Seals inner messages from this node to other nodes, one rotating session per destination. */
export class RelaySealer {
  readonly #keyPair: KeyPair;
  readonly #src: Uint8Array;
  readonly #static: MontgomeryKeys;
  readonly #sessions = new Map<NodeId, SenderSession>();
  readonly #rotateAfterMessages: number;
  readonly #rotateAfterMs: number;
  readonly #maxSessions: number;
  readonly #now: () => number;
  readonly #prepareAhead: boolean;
  readonly #aad = Buffer.allocUnsafe(AAD_BYTES);
  readonly #nonce = Buffer.allocUnsafe(12);
  #scratch = Buffer.allocUnsafe(4096);
  /** Sealed buffers handed back, by size: each is a bucket long. */
  readonly #spare = new Map<number, Buffer[]>();
  /**
   * Each session's next cipher, made once this turn of the event loop has written what it sealed:
   * made after a wake-up, on the next message's path, `createCipheriv` costs several times what it
   * does in a hot loop, and made right after this seal it delays this message's write.
   */
  readonly #ahead = new AfterTurn<SenderSession>((session) => {
    if (session.ahead !== undefined || session.counter >= this.#rotateAfterMessages) return;
    session.ahead = this.#cipher(session, session.counter);
    session.aheadCounter = session.counter;
  });
  /** Sessions started so far (a counter for status). */
  sessionsStarted = 0;

  constructor(keyPair: KeyPair, options: SealerOptions = {}) {
    this.#keyPair = keyPair;
    this.#src = keyPair.publicKey;
    this.#static = montgomeryKeys(keyPair);
    this.#rotateAfterMessages = Math.min(options.rotateAfterMessages ?? 1_000_000, 0xffff_ffff);
    this.#rotateAfterMs = options.rotateAfterMs ?? 10 * 60_000;
    this.#maxSessions = options.maxSessions ?? 4096;
    this.#now = options.now ?? Date.now;
    this.#prepareAhead = options.prepareAhead ?? false;
  }

  /**
   * Seals `inner` (an encoded EngineMessage) for `destination`, valid until `expiry` (ms since the
   * epoch). The result's length is a padding bucket size.
   */
  seal(destination: NodeId, inner: Uint8Array, expiry: number): Buffer {
    return this.sealMany(destination, [inner], expiry);
  }

  /**
   * Seals several inner messages for `destination` into one RelayMessage (`u32 length ‖ message`
   * each, then zero padding): one AEAD, one frame and one pass through the relay for all of them.
   */
  sealMany(destination: NodeId, inners: readonly Uint8Array[], expiry: number): Buffer {
    if (inners.length === 0 || inners.some((inner, i) => i > 0 && inner.length === 0)) {
      // A zero length after the first message ends the list: only the first may be empty.
      throw new RangeError('sealMany takes at least one message, and only the first may be empty');
    }
    let framed = 0;
    for (const inner of inners) framed += LENGTH_BYTES + inner.length;
    const records = this.#plaintext(framed);
    let at = 0;
    for (const inner of inners) {
      records.writeUInt32BE(inner.length, at);
      records.set(inner, at + LENGTH_BYTES);
      at += LENGTH_BYTES + inner.length;
    }
    return this.sealRecords(destination, [records], expiry);
  }

  /**
   * Seals records already laid out as `(u32 length ‖ record)…` (each length > 0, as a link's frames
   * are), in one or more parts read in order: the caller encodes its messages straight into its own
   * buffers, and this adds only the padding.
   */
  sealRecords(destination: NodeId, parts: readonly Uint8Array[], expiry: number): Buffer {
    let length = 0;
    for (const part of parts) length += part.length;
    if (length < LENGTH_BYTES) throw new RangeError('sealRecords takes at least one record');
    const now = this.#now();
    let session = this.#sessions.get(destination);
    if (
      session === undefined ||
      session.counter >= this.#rotateAfterMessages ||
      now - session.createdAt >= this.#rotateAfterMs
    ) {
      session = this.#startSession(destination, now);
    }
    const counter = session.counter++;
    const total = paddedSize(length + SEALED_HEADER_BYTES + TAG_BYTES);
    const plaintextLength = total - SEALED_HEADER_BYTES - TAG_BYTES;
    const out =
      total < MIN_RECYCLED_SEALED_BYTES
        ? Buffer.allocUnsafe(total)
        : (this.#spare.get(total)?.pop() ?? Buffer.allocUnsafeSlow(total));
    session.header.copy(out, 0);
    writeU64(out, OFF_COUNTER, counter);
    // Made ahead by the previous message when this is the counter it was made for (it always is,
    // unless the session was just started): the nonce of each counter goes into one cipher only.
    const ahead = session.ahead;
    const cipher =
      ahead !== undefined && session.aheadCounter === counter ? ahead : this.#cipher(session, counter);
    session.ahead = undefined;
    cipher.setAAD(additionalData(this.#aad, out, this.#src, session.dst, expiry), { plaintextLength });
    // The records, then zeros up to the bucket (a zero length also ends the list of records).
    let at = SEALED_HEADER_BYTES;
    if (plaintextLength <= SCRATCH_PLAINTEXT) {
      const plaintext = this.#plaintext(plaintextLength);
      let into = 0;
      for (const part of parts) {
        plaintext.set(part, into);
        into += part.length;
      }
      plaintext.fill(0, into);
      at += cipher.update(plaintext).copy(out, at);
    } else {
      for (const part of parts) at += cipher.update(part).copy(out, at);
      at += cipher.update(zeros(plaintextLength - length)).copy(out, at);
    }
    cipher.final();
    cipher.getAuthTag().copy(out, at);
    if (this.#prepareAhead) this.#ahead.add(session);
    return out;
  }

  #cipher(session: SenderSession, counter: number): CipherGCM {
    return createCipheriv(CIPHER, session.key, nonceOf(this.#nonce, session.noncePrefix, counter), {
      authTagLength: TAG_BYTES,
    });
  }

  /**
   * Takes back a buffer `sealRecords` returned that nothing refers to any more (its bytes were copied
   * into a link's frame): the next seal of that size writes into it.
   */
  recycle(sealed: Buffer): void {
    const size = sealed.length;
    if (size < MIN_RECYCLED_SEALED_BYTES || size > MAX_SPARE_SEALED_BYTES) return;
    if (sealed.byteOffset !== 0 || sealed.buffer.byteLength !== size) return;
    let spare = this.#spare.get(size);
    if (spare === undefined) {
      spare = [];
      this.#spare.set(size, spare);
    }
    if (spare.length < SPARE_SEALED_PER_SIZE) spare.push(sealed);
  }

  /** A scratch plaintext of `length` bytes (node:crypto copies what it encrypts before returning). */
  #plaintext(length: number): Buffer {
    if (this.#scratch.length < length)
      this.#scratch = Buffer.allocUnsafe(Math.max(length, 2 * this.#scratch.length));
    return this.#scratch.subarray(0, length);
  }

  /** Forgets the session to `destination`, so the next message starts a new one. */
  reset(destination: NodeId): void {
    this.#sessions.delete(destination);
  }

  #startSession(destination: NodeId, now: number): SenderSession {
    const session = startSenderSession(this.#keyPair, this.#src, this.#static, destination, now);
    this.#sessions.delete(destination);
    this.#sessions.set(destination, session);
    if (this.#sessions.size > this.#maxSessions) {
      const oldest = this.#sessions.keys().next().value as NodeId;
      this.#sessions.delete(oldest);
    }
    this.sessionsStarted++;
    return session;
  }
}
