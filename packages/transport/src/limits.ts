import { DEFAULT_MAX_FRAME_SIZE } from './wire/frame-codec.js';

/** The bounds every Transport engine resource lives within. */
export interface TransportLimits {
  /** Open and handshaking connections; callers beyond it get OverCapacity (default 1024). */
  maxConnections: number;
  /** Messages waiting per node while its connection is down or busy (default 1024). */
  queueSize: number;
  /** Messages waiting across all nodes together (default 65,536). */
  maxQueuedTotal: number;
  /** How long a message without an expiry may wait in a queue, ms (default 30 s). */
  defaultQueueTtlMs: number;
  /** An ephemeral connection with no message either way for this long is closed, ms (default 60 s). */
  idleTimeoutMs: number;
  handshakeTimeoutMs: number;
  /** One dial attempt (connect, before the handshake), ms (default 10 s). */
  dialTimeoutMs: number;
  maxFrameSize: number;
  /** Pending bytes that trigger a write before the end of the tick (default 256 KiB). */
  flushBytes: number;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  closeTimeoutMs: number;
  /**
   * Strict mode with verify threads: messages of one link waiting for their signature check; at the
   * bound the link stops reading until half are through (default 4096).
   */
  maxVerifyingPerLink: number;
}

export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = {
  maxConnections: 1024,
  queueSize: 1024,
  maxQueuedTotal: 65_536,
  defaultQueueTtlMs: 30_000,
  idleTimeoutMs: 60_000,
  handshakeTimeoutMs: 10_000,
  dialTimeoutMs: 10_000,
  maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
  flushBytes: 256 * 1024,
  pingIntervalMs: 15_000,
  pingTimeoutMs: 45_000,
  closeTimeoutMs: 5_000,
  maxVerifyingPerLink: 4096,
};
