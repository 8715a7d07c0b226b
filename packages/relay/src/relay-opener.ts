import { createDecipheriv, type DecipherGCM } from 'node:crypto';
import { identityBytes, type KeyPair, type NodeId } from '@netmachine/core';
import { ReplayWindow } from '@netmachine/transport';
import { AfterTurn } from './after-turn.js';
import {
  MalformedRelayMessageError,
  RelayDecryptError,
  RelayMessageExpiredError,
  RelayReplayError,
  RelaySessionRateError,
} from './errors.js';
import {
  AAD_BYTES,
  additionalData,
  CIPHER,
  nonceOf,
  OFF_COUNTER,
  OFF_CREATED,
  OFF_SESSION,
  OFF_VERSION,
  readU64,
  recordBounds,
  SEALED_HEADER_BYTES,
  SEALED_OVERHEAD,
  SEALED_VERSION,
  SESSION_ID_BYTES,
  TAG_BYTES,
} from './sealed-format.js';
import {
  acceptSessionHeader,
  type MontgomeryKeys,
  montgomeryKeys,
  type ReceiverSession,
} from './session-keys.js';
import { TokenBucket } from './token-bucket.js';

/*
 * The destination's side of relay sealing: admits a source's session once (age, rate, signature,
 * key exchange) and then opens each message with one AEAD and a replay check. The per-message path
 * is `openPlaintext`; everything costly per session sits behind the cache of `#last`/`#sessions`.
 */

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
  /**
   * Makes a session's decipher for the next counter ahead of its next message (default false): once
   * this turn's messages are handled (`setImmediate`), not on their way. Off by default for the reason
   * `SealerOptions.prepareAhead` gives: work after a write delays the peer it woke.
   */
  prepareAhead?: boolean;
  now?: () => number;
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
  readonly #prepareAhead: boolean;
  /**
   * Each session's decipher for its next counter, made once this turn of the event loop has handled
   * (and answered) what it opened: made after a wake-up, on the next message's path, it costs several
   * times more; made right after this open, it delays the reply.
   */
  readonly #ahead = new AfterTurn<ReceiverSession>((session) => {
    session.ahead ??= this.#decipher(session, session.aheadCounter);
  });
  readonly #aad = Buffer.allocUnsafe(AAD_BYTES);
  readonly #nonce = Buffer.allocUnsafe(12);
  /**
   * The session the last message came in, with its source's key bytes: a run of messages from one
   * source is matched by comparing 8 bytes, not by decoding the node id and building a map key.
   */
  #last:
    | {
        source: NodeId;
        src: Uint8Array;
        idHigh: number;
        idLow: number;
        key: string;
        session: ReceiverSession;
      }
    | undefined;
  sessionsOpened = 0;

  constructor(keyPair: KeyPair, options: OpenerOptions = {}) {
    this.#dst = keyPair.publicKey;
    this.#static = montgomeryKeys(keyPair);
    this.#lifetimeMs = options.sessionLifetimeMs ?? 15 * 60_000;
    this.#skewMs = options.maxClockSkewMs ?? 60_000;
    this.#maxSessions = options.maxSessions ?? 4096;
    this.#replayWindow = options.replayWindow ?? 8192;
    this.#now = options.now ?? Date.now;
    this.#prepareAhead = options.prepareAhead ?? false;
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
    // A frame's bytes arrive as a Buffer: no wrapper is made for them.
    const data =
      sealed instanceof Buffer ? sealed : Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    // The session id as two numbers: a run from one session is matched without a view or a string.
    const idHigh = data.readUInt32BE(OFF_SESSION);
    const idLow = data.readUInt32BE(OFF_SESSION + 4);
    let last = this.#last;
    if (
      last === undefined ||
      last.idLow !== idLow ||
      last.idHigh !== idHigh ||
      last.source !== source ||
      this.#sessions.get(last.key) !== last.session
    ) {
      const src = identityBytes(source);
      const key = `${source}:${data.toString('hex', OFF_SESSION, OFF_SESSION + SESSION_ID_BYTES)}`;
      const session = this.#sessions.get(key) ?? this.#admitSession(source, src, data, key, now);
      last = { source, src, idHigh, idLow, key, session };
      this.#last = last;
    }
    const { src, session } = last;
    if (now - session.createdAt > this.#lifetimeMs) {
      this.#sessions.delete(last.key);
      this.#last = undefined;
      throw new RelayMessageExpiredError(source, 'session');
    }
    // The counter is at most 2^32 - 1 (a session rotates before): its high word must be zero.
    if (data.readUInt32BE(OFF_COUNTER) !== 0) throw new MalformedRelayMessageError('counter out of range');
    const counter = data.readUInt32BE(OFF_COUNTER + 4);
    const tagAt = data.length - TAG_BYTES;
    // A source's messages mostly come in order: the one made ahead for this counter, if it is.
    const ahead = session.ahead;
    const decipher =
      ahead !== undefined && session.aheadCounter === counter ? ahead : this.#decipher(session, counter);
    session.ahead = undefined;
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
    if (this.#prepareAhead && counter < 0xffff_ffff) {
      session.aheadCounter = counter + 1;
      this.#ahead.add(session);
    }
    return plaintext;
  }

  #decipher(session: ReceiverSession, counter: number): DecipherGCM {
    const nonce = nonceOf(this.#nonce, session.noncePrefix, counter);
    return createDecipheriv(CIPHER, session.key, nonce, { authTagLength: TAG_BYTES });
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
      ahead: undefined,
      aheadCounter: 0,
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
