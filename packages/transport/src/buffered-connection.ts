import {
  type Connection,
  ConnectionClosedError,
  type ConnectionHandlers,
  type Logger,
  type NodeId,
} from '@netmachine/core';
import { WriteBatch } from './write-batch.js';

/** What every socket connection is made with. */
export interface BufferedConnectionInit {
  readonly remoteNode: NodeId;
  readonly remoteAddress: string;
  readonly direction: 'inbound' | 'outbound';
  /** `write` returns false at or above this many queued bytes. */
  readonly highWaterMark: number;
  /** Bytes kept for the owner before `setHandlers`; above it reading stops (backpressure, no loss). */
  readonly maxEarlyBytes: number;
  /** How long a graceful `close` waits for the peer before giving up. */
  readonly closeTimeoutMs: number;
  /** Largest buffer the write batch hands out (default 64 KiB). */
  readonly maxBatchBytes?: number | undefined;
  /** Bytes that arrived with the handshake, before the connection existed. */
  readonly initialData?: Buffer | undefined;
  readonly logger: Logger;
  /** Told once when the connection is closed (the transport forgets it). */
  readonly onClosed: (connection: BufferedConnection) => void;
}

/**
 * What the TLS and QUIC connections share: bytes that arrive before the owner's `setHandlers` are kept
 * (reading stops above `maxEarlyBytes`), writes are copied into a `WriteBatch` and leave together once
 * per tick (bytes handed over with `writeOwned` are neither copied nor held back when nothing else
 * waits), `write` reports the high-water mark and `onDrain` follows a refused write, and `onClose`
 * is called exactly once, even for a close that happened before `setHandlers`.
 *
 * A subclass moves the bytes: `flush` hands the batch to the socket or stream, `received` is called
 * with what arrives, `finish` when the connection has ended.
 */
export abstract class BufferedConnection implements Connection {
  abstract readonly protocol: string;
  readonly remoteNode: NodeId;
  readonly remoteAddress: string;
  readonly direction: 'inbound' | 'outbound';
  protected readonly init: BufferedConnectionInit;
  protected readonly highWaterMark: number;
  /** Writes not yet handed to the socket. */
  protected readonly batch: WriteBatch;
  protected handlers: ConnectionHandlers | undefined;
  /** Set once a graceful close has begun: writes are refused from then on. */
  protected closing: Promise<void> | undefined;
  #early: Buffer[] = [];
  #earlyBytes = 0;
  #flushScheduled = false;
  #needDrain = false;
  #closed = false;
  #closeError: Error | undefined;
  #closeNotified = false;

  protected constructor(init: BufferedConnectionInit, socketHighWaterMark = 0) {
    this.init = init;
    this.remoteNode = init.remoteNode;
    this.remoteAddress = init.remoteAddress;
    this.direction = init.direction;
    // Our mark must not be below the socket's own: its 'drain' only fires after it has refused a write.
    this.highWaterMark = Math.max(init.highWaterMark, socketHighWaterMark);
    this.batch = new WriteBatch(init.maxBatchBytes);
  }

  /** Bytes handed to the socket or stream and not yet sent by it. */
  protected abstract get socketBufferedBytes(): number;

  /** Hands what the batch holds to the socket or stream (called at most once per tick, and by close). */
  protected abstract flush(): void;

  /** Called once the handlers are set, for a subclass that stopped reading while nobody listened. */
  protected abstract resumeAfterHandlers(): void;

  get bufferedBytes(): number {
    return this.#closed ? 0 : this.batch.bytes + this.socketBufferedBytes;
  }

  /** True once the connection has ended (its owner is told, or will be when it sets its handlers). */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Whether the bytes kept for a missing owner have reached `maxEarlyBytes` (reading should stop). */
  protected get earlyFull(): boolean {
    return this.handlers === undefined && this.#earlyBytes >= this.init.maxEarlyBytes;
  }

  setHandlers(handlers: ConnectionHandlers): void {
    if (this.handlers !== undefined) throw new Error('setHandlers called twice');
    this.handlers = handlers;
    const early = this.#early;
    this.#early = [];
    this.#earlyBytes = 0;
    for (const chunk of early) handlers.onData(chunk);
    if (this.#closed) {
      this.#notifyClose();
      return;
    }
    this.resumeAfterHandlers();
    // A write refused before the handlers existed still deserves its onDrain.
    this.checkDrain();
  }

  write(data: Uint8Array): boolean {
    if (this.#closed || this.closing !== undefined) return false;
    if (data.length > 0) {
      // Copied at once (the caller may reuse its buffer); the tick's writes leave together.
      this.batch.append(data);
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        process.nextTick(this.#flushTick);
      }
    }
    const below = this.bufferedBytes < this.highWaterMark;
    if (!below) this.#needDrain = true;
    return below;
  }

  /**
   * Bytes the caller will never change (a frame writer's flushed slab): not copied, and handed to the
   * socket at once unless earlier writes wait for the end of the tick, so a lone reply is not held
   * back by a second deferral. `written` is called once the socket is done with `data` (see
   * `Connection.writeOwned`); never when the connection closes first.
   */
  writeOwned(data: Uint8Array, written?: () => void): boolean {
    if (this.#closed || this.closing !== undefined) return false;
    if (data.length > 0) {
      this.batch.adopt(data, written);
      if (!this.#flushScheduled) this.flush();
    }
    const below = this.bufferedBytes < this.highWaterMark;
    if (!below) this.#needDrain = true;
    return below;
  }

  abstract close(): Promise<void>;
  abstract pause(): void;
  abstract resume(): void;
  abstract abort(error?: Error): void;

  readonly #flushTick = (): void => {
    this.#flushScheduled = false;
    if (!this.#closed) this.flush();
  };

  /** Calls `onDrain` once the queue is below the mark again after a refused write. */
  protected checkDrain(): void {
    if (this.#needDrain && !this.#closed && this.bufferedBytes < this.highWaterMark) {
      this.#needDrain = false;
      this.handlers?.onDrain();
    }
  }

  /** Bytes from the peer: to the owner, or kept until it sets its handlers. */
  protected received(chunk: Buffer): void {
    if (this.handlers !== undefined) {
      this.handlers.onData(chunk);
      return;
    }
    this.#early.push(chunk);
    this.#earlyBytes += chunk.length;
    if (this.#earlyBytes >= this.init.maxEarlyBytes) this.stopReadingEarly();
  }

  /** Called when the early bytes reach `maxEarlyBytes`: a subclass that reads by events pauses here. */
  protected stopReadingEarly(): void {}

  /** The connection has ended, cleanly (no error) or not. Idempotent; tells the owner once. */
  protected finish(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    this.batch.clear();
    this.init.onClosed(this);
    if (this.handlers !== undefined) this.#notifyClose();
  }

  /** A failure as the `ConnectionClosedError` the owner is told about. */
  protected failure(cause: unknown): ConnectionClosedError {
    const message = cause instanceof Error ? cause.message : String(cause);
    return new ConnectionClosedError(`connection to ${this.remoteNode} failed: ${message}`, { cause });
  }

  #notifyClose(): void {
    if (this.#closeNotified) return;
    this.#closeNotified = true;
    this.handlers?.onClose(this.#closeError);
  }
}
