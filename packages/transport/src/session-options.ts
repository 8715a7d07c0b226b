import type {
  Connection,
  EngineMessage,
  KeyPair,
  Logger,
  NodeAdvert,
  NodeDirectory,
  NodeId,
} from '@netmachine/core';
import type { ConnectionSession } from './connection-session.js';
import type { TransportCounters, TransportDropReason } from './counters.js';
import type { Refusal } from './handshake.js';
import type { SignaturePool } from './signature-pool.js';
import type { Goodbye } from './wire/frames.js';

// What a session is given by its owner (the transport engine): kept apart from the session itself so
// the owner's side of the contract reads in one place.

export interface SessionLimits {
  maxFrameSize: number;
  handshakeTimeoutMs: number;
  /** Pending bytes at which a flush happens at once instead of at the end of the tick. */
  flushBytes: number;
  pingIntervalMs: number;
  /** A ping unanswered for this long closes the connection (a dead or black-holed peer). */
  pingTimeoutMs: number;
  closeTimeoutMs: number;
  maxVerifyingPerLink: number;
}

export interface SessionHooks {
  /** False: the receiver kept the message but is full; it calls `session.onRoom` once per such message. */
  onMessage(session: ConnectionSession, message: EngineMessage): boolean | undefined;
  /** The connection accepts messages again after backpressure. */
  onWritable(session: ConnectionSession): void;
  /** The peer said goodbye: send nothing more on this session. */
  onGoodbye(session: ConnectionSession, goodbye: Goodbye): void;
  onClosed(session: ConnectionSession, error: Error | undefined): void;
  onDropped(reason: TransportDropReason, error: Error, node: NodeId, message?: EngineMessage): void;
  /** Inbound only: may refuse a caller after its ConnectRequest (trust, capacity). */
  admit(peer: NodeId): Refusal | undefined;
  /** Around the messages of one read (see `MessageSink.readStarted`); in pairs. */
  readStarted?(): void;
  readEnded?(): void;
}

export interface SessionOptions {
  readonly connection: Connection;
  readonly keyPair: KeyPair;
  readonly directory: NodeDirectory;
  readonly localAdvert: () => NodeAdvert | undefined;
  readonly strict: boolean;
  /** Strict mode: verify signatures on these worker threads, in order (else on the event loop). */
  readonly signaturePool?: SignaturePool | undefined;
  readonly limits: SessionLimits;
  readonly counters: TransportCounters;
  readonly logger: Logger;
  readonly hooks: SessionHooks;
}
