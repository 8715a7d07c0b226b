import { createCipheriv, createDecipheriv } from 'node:crypto';
import { identityBytes, type KeyPair, type NodeId } from '@netmachine/core';
import { ReplayWindow } from '@netmachine/transport';
import {
  MalformedRelayMessageError,
  RelayDecryptError,
  RelayMessageExpiredError,
  RelayReplayError,
  RelaySessionRateError,
} from './errors.js';
import { paddedSize } from './padding.js';
import {
  AAD_BYTES,
  additionalData,
  CIPHER,
  LENGTH_BYTES,
  nonceOf,
  OFF_COUNTER,
  OFF_CREATED,
  OFF_EPHEMERAL,
  OFF_SESSION,
  OFF_VERSION,
  readU64,
  recordBounds,
  SEALED_HEADER_BYTES,
  SEALED_OVERHEAD,
  SEALED_VERSION,
  SESSION_ID_BYTES,
  TAG_BYTES,
  writeU64,
} from './sealed-format.js';
import {
  acceptSessionHeader,
  type MontgomeryKeys,
  montgomeryKeys,
  type ReceiverSession,
  type SenderSession,
  startSenderSession,
} from './session-keys.js';
import { TokenBucket } from './token-bucket.js';

export interface SealerOptions {
  /** A session is replaced after this many messages (default 1,000,000; at most 2^32 - 1). */
  rotateAfterMessages?: number;
  /** A session is replaced after this long, in ms (default 10 minutes). */
  rotateAfterMs?: number;
  /** Sessions kept (one per destination), oldest dropped first (default 4096). */
  maxSessions?: number;
  now?: () => number;
}

export interface OpenerOptions {
  /** How long after its creation a session is accepted, in ms (default 15 minutes: rotation plus slack). */
  sessionLifetimeMs?: number;
  /** How far in the future a session's creation time may lie (clock skew), in ms (default 60 s). */
  maxClockSkewMs?: number;
  /** Sessions kept, oldest dropped first (default 4096). */
  maxSessions?: number;
  /** Per-session replay window, in messages (default 8192, a multiple of 32). */
  replayWindow?: number;
  /** New sessions accepted per second, over all sources (each costs a signature check and two X25519). */
  newSessionsPerSecond?: number;
  now?: () => number;
}

const ZEROS = Buffer.alloc(65536);
/**
 * Plaintexts up to this size (a full batch's bucket and more) are laid out in a scratch buffer and
 * encrypted in one call: one cipher call and one output buffer cost more than copying the parts
 * (for a 16 KiB batch in 1–3 parts plus padding: about 15 µs against 19 µs in parts).
 */
const SCRATCH_PLAINTEXT = 65536;

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
  readonly #aad = Buffer.allocUnsafe(AAD_BYTES);
  readonly #nonce = Buffer.allocUnsafe(12);
  #scratch = Buffer.allocUnsafe(4096);
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
    const out = Buffer.allocUnsafe(total);
    session.header.copy(out, 0);
    writeU64(out, OFF_COUNTER, counter);
    const cipher = createCipheriv(CIPHER, session.key, nonceOf(this.#nonce, session.noncePrefix, counter), {
      authTagLength: TAG_BYTES,
    });
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
    return out;
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

/** Opens RelayMessages sealed to this node: checks the session once, then one AEAD per message. */
export class RelayOpener {
  readonly #dst: Uint8Array;
  readonly #static: MontgomeryKeys;
  readonly #sessions = new Map<string, ReceiverSession>();
  readonly #lifetimeMs: number;
  readonly #skewMs: number;
  readonly #maxSessions: number;
  readonly #replayWindow: number;
  readonly #newSessions: TokenBucket;
  readonly #now: () => number;
  readonly #aad = Buffer.allocUnsafe(AAD_BYTES);
  readonly #nonce = Buffer.allocUnsafe(12);
  /**
   * The session the last message came in, with its source's key bytes: a run of messages from one
   * source is matched by comparing 8 bytes, not by decoding the node id and building a map key.
   */
  #last: { source: NodeId; src: Uint8Array; id: Buffer; key: string; session: ReceiverSession } | undefined;
  sessionsOpened = 0;

  constructor(keyPair: KeyPair, options: OpenerOptions = {}) {
    this.#dst = keyPair.publicKey;
    this.#static = montgomeryKeys(keyPair);
    this.#lifetimeMs = options.sessionLifetimeMs ?? 15 * 60_000;
    this.#skewMs = options.maxClockSkewMs ?? 60_000;
    this.#maxSessions = options.maxSessions ?? 4096;
    this.#replayWindow = options.replayWindow ?? 8192;
    this.#now = options.now ?? Date.now;
    const rate = options.newSessionsPerSecond ?? 200;
    this.#newSessions = new TokenBucket(rate, rate, this.#now);
  }

  /** Sessions currently cached. */
  get sessions(): number {
    return this.#sessions.size;
  }

  /**
   * Opens a sealed message from `source` that carries `expiry`; returns the inner bytes. Throws a
   * typed error for anything that is not a fresh, authentic message to this node.
   */
  open(source: NodeId, sealed: Uint8Array, expiry: number): Uint8Array {
    return this.openMany(source, sealed, expiry)[0] as Uint8Array;
  }

  /** As `open`, for a RelayMessage that may carry several inner messages: all of them, in order. */
  openMany(source: NodeId, sealed: Uint8Array, expiry: number): Uint8Array[] {
    const plaintext = this.openPlaintext(source, sealed, expiry);
    const spans = recordBounds(plaintext);
    const inners: Uint8Array[] = [];
    for (let i = 0; i < spans.length; i += 2) {
      inners.push(plaintext.subarray(spans[i] as number, spans[i + 1] as number));
    }
    return inners;
  }

  /**
   * Checks and decrypts a sealed message from `source` that carries `expiry`; returns the plaintext
   * (`(u32 length ‖ record)…`, then zero padding; `recordBounds` reads it). Throws a typed error for
   * anything that is not a fresh, authentic message to this node.
   */
  openPlaintext(source: NodeId, sealed: Uint8Array, expiry: number): Buffer {
    const now = this.#now();
    if (sealed.length < SEALED_OVERHEAD) throw new MalformedRelayMessageError('too short');
    if (sealed[OFF_VERSION] !== SEALED_VERSION) {
      throw new MalformedRelayMessageError(`unknown version ${sealed[OFF_VERSION]}`);
    }
    if (expiry <= now) throw new RelayMessageExpiredError(source, 'message');
    const data = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    let last = this.#last;
    if (
      last === undefined ||
      last.source !== source ||
      data.compare(last.id, 0, SESSION_ID_BYTES, OFF_SESSION, OFF_EPHEMERAL) !== 0 ||
      this.#sessions.get(last.key) !== last.session
    ) {
      const src = identityBytes(source);
      const key = `${source}:${data.toString('hex', OFF_SESSION, OFF_EPHEMERAL)}`;
      const session = this.#sessions.get(key) ?? this.#admitSession(source, src, data, key, now);
      const id = Buffer.from(data.subarray(OFF_SESSION, OFF_EPHEMERAL));
      last = { source, src, id, key, session };
      this.#last = last;
    }
    const { src, session } = last;
    if (now - session.createdAt > this.#lifetimeMs) {
      this.#sessions.delete(last.key);
      this.#last = undefined;
      throw new RelayMessageExpiredError(source, 'session');
    }
    const counter = readU64(data, OFF_COUNTER);
    if (counter > 0xffff_ffff) throw new MalformedRelayMessageError('counter out of range');
    const tagAt = data.length - TAG_BYTES;
    const nonce = nonceOf(this.#nonce, session.noncePrefix, counter);
    const decipher = createDecipheriv(CIPHER, session.key, nonce, { authTagLength: TAG_BYTES });
    const cipherLength = tagAt - SEALED_HEADER_BYTES;
    decipher.setAAD(additionalData(this.#aad, data, src, this.#dst, expiry), {
      plaintextLength: cipherLength,
    });
    decipher.setAuthTag(data.subarray(tagAt));
    let plaintext: Buffer;
    try {
      plaintext = decipher.update(data.subarray(SEALED_HEADER_BYTES, tagAt));
      decipher.final();
    } catch (error) {
      throw Object.assign(new RelayDecryptError(source), { cause: error });
    }
    // Only an authentic message moves the replay window, so a forgery cannot burn counters.
    if (!session.replay.accept(counter)) throw new RelayReplayError(source, counter);
    return plaintext;
  }

  #admitSession(
    source: NodeId,
    src: Uint8Array,
    data: Buffer,
    sessionKey: string,
    now: number,
  ): ReceiverSession {
    const createdAt = readU64(data, OFF_CREATED);
    if (now - createdAt > this.#lifetimeMs) throw new RelayMessageExpiredError(source, 'session');
    if (createdAt - now > this.#skewMs) throw new MalformedRelayMessageError('session created in the future');
    if (!this.#newSessions.take(1)) throw new RelaySessionRateError(source);
    const { key, noncePrefix } = acceptSessionHeader(source, src, this.#dst, this.#static, data);
    const session: ReceiverSession = {
      key,
      noncePrefix,
      createdAt,
      replay: new ReplayWindow(this.#replayWindow),
    };
    this.#sessions.set(sessionKey, session);
    if (this.#sessions.size > this.#maxSessions) {
      const oldest = this.#sessions.keys().next().value as string;
      this.#sessions.delete(oldest);
    }
    this.sessionsOpened++;
    return session;
  }
}
