import type { QUICConnection, QUICStream } from '@matrixai/quic';
import { events as quicEvents } from '@matrixai/quic';
import {
  type Connection,
  ConnectionClosedError,
  type ConnectionHandlers,
  type Logger,
  type NodeId,
} from '@netmachine/core';
import { WriteBatch } from '@netmachine/transport';

/** Application error codes this transport sends when it closes a QUIC connection. */
export const CLOSE_CODE = { normal: 0, aborted: 1 } as const;

export interface QuicConnectionInit {
  readonly connection: QUICConnection;
  readonly stream: QUICStream;
  /** The stream's reader, when the dial handshake already holds it. */
  readonly reader?: ReadableStreamDefaultReader<Uint8Array> | undefined;
  /** The stream's writer, when the accept handshake already holds it. */
  readonly writer?: WritableStreamDefaultWriter<Uint8Array> | undefined;
  /** Bytes of the acceptance handshake to send first, in the same stream write as the owner's first bytes. */
  readonly prelude?: Uint8Array | undefined;
  /** Stops the underlying QUIC connection (and its client, for a dialed one). */
  readonly stop: (errorCode: number) => Promise<void>;
  readonly remoteNode: NodeId;
  readonly remoteAddress: string;
  readonly direction: 'inbound' | 'outbound';
  readonly highWaterMark: number;
  /** Queued writes are copied into buffers of this size, each one stream write. */
  readonly maxBatchBytes: number;
  readonly maxEarlyBytes: number;
  readonly closeTimeoutMs: number;
  /** Bytes already read from the stream after the acceptance byte. */
  readonly initialData?: Buffer | undefined;
  readonly logger: Logger;
  /** Counts each stream write and its size. */
  readonly onStreamWrite: (bytes: number) => void;
  readonly onClosed: (connection: QuicConnection) => void;
}

/**
 * One QUIC connection with one bidirectional stream, as a core `Connection`. Every stream write costs a
 * round of promises, events and timers in @matrixai/quic, so writes are queued and joined: while one
 * stream write is in flight, everything written meanwhile becomes the next single write.
 */
export class QuicConnection implements Connection {
  readonly protocol = 'quic';
  readonly remoteNode: NodeId;
  readonly remoteAddress: string;
  readonly direction: 'inbound' | 'outbound';
  readonly #init: QuicConnectionInit;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #handlers: ConnectionHandlers | undefined;
  #early: Buffer[] = [];
  #earlyBytes = 0;
  #resumeReading: (() => void) | undefined;
  /** Reading stopped by the owner (flow control); QUIC's stream window then holds the peer back. */
  #paused = false;
  readonly #batch: WriteBatch;
  #inflightBytes = 0;
  #flushing = false;
  #needDrain = false;
  #peerEnded = false;
  #closing: Promise<void> | undefined;
  #closed = false;
  #closeError: Error | undefined;
  #closeNotified = false;
  #connectionError: Error | undefined;
  #flushed: (() => void) | undefined;
  #peerEndedSignal: (() => void) | undefined;
  readonly #finished: Promise<'finished'>;
  #resolveFinished!: () => void;

  constructor(init: QuicConnectionInit) {
    this.#init = init;
    this.#batch = new WriteBatch(init.maxBatchBytes);
    this.remoteNode = init.remoteNode;
    this.remoteAddress = init.remoteAddress;
    this.direction = init.direction;
    this.#finished = new Promise((resolve) => {
      this.#resolveFinished = () => resolve('finished');
    });
    this.#writer = init.writer ?? init.stream.writable.getWriter();
    this.#reader = init.reader ?? init.stream.readable.getReader();
    // Rejections are handled where the writer is used; these keep unobserved ones quiet.
    this.#writer.closed.catch(() => {});
    if (init.initialData !== undefined && init.initialData.length > 0) this.#keepEarly(init.initialData);
    if (init.prelude !== undefined) this.write(init.prelude);
    init.connection.addEventListener(quicEvents.EventQUICConnectionError.name, this.#onConnectionError);
    void init.connection.closedP.then(() => this.#onConnectionClosed());
    void this.#readLoop();
  }

  get bufferedBytes(): number {
    return this.#batch.bytes + this.#inflightBytes;
  }

  setHandlers(handlers: ConnectionHandlers): void {
    if (this.#handlers !== undefined) throw new Error('setHandlers called twice');
    this.#handlers = handlers;
    const early = this.#early;
    this.#early = [];
    this.#earlyBytes = 0;
    for (const chunk of early) handlers.onData(chunk);
    if (this.#closed) this.#notifyClose();
    this.#resumeReading?.();
    // A write refused before the handlers existed still deserves its onDrain.
    if (this.#needDrain && !this.#closed && this.bufferedBytes < this.#init.highWaterMark) {
      this.#needDrain = false;
      handlers.onDrain();
    }
  }

  write(data: Uint8Array): boolean {
    if (this.#closed || this.#closing !== undefined) return false;
    if (data.length > 0) {
      // Copied at once: the caller may reuse its buffer.
      this.#batch.append(data);
      if (!this.#flushing) {
        this.#flushing = true;
        // Writes of the same tick join the first batch.
        process.nextTick(() => void this.#flushLoop());
      }
    }
    const below = this.bufferedBytes < this.#init.highWaterMark;
    if (!below) this.#needDrain = true;
    return below;
  }

  close(): Promise<void> {
    this.#closing ??= this.#closeGracefully();
    return this.#closing;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#resumeReading?.();
  }

  abort(error?: Error): void {
    if (this.#closed) return;
    this.#batch.clear();
    this.#finish(error ?? new ConnectionClosedError('connection aborted'));
    this.#init.stream.cancel(error);
    void this.#init.stop(CLOSE_CODE.aborted).catch(() => {});
  }

  async #flushLoop(): Promise<void> {
    try {
      while (this.#batch.bytes > 0 && !this.#closed) {
        // One stream write for everything queued: a QUIC stream write costs far more than a copy.
        const parts = this.#batch.take();
        const data = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
        this.#inflightBytes += data.length;
        this.#init.onStreamWrite(data.length);
        await this.#writer.write(data);
        this.#inflightBytes -= data.length;
        if (this.#needDrain && this.bufferedBytes < this.#init.highWaterMark && !this.#closed) {
          this.#needDrain = false;
          this.#handlers?.onDrain();
        }
      }
    } catch (error) {
      if (!this.#closed) this.#fail(error);
    } finally {
      this.#inflightBytes = 0;
      this.#flushing = false;
      this.#flushed?.();
    }
  }

  async #readLoop(): Promise<void> {
    try {
      while (true) {
        while (
          this.#paused ||
          (this.#handlers === undefined && this.#earlyBytes >= this.#init.maxEarlyBytes)
        ) {
          // Nobody is listening yet: stop reading and let QUIC flow control hold the peer back.
          await new Promise<void>((resolve) => {
            this.#resumeReading = resolve;
          });
          this.#resumeReading = undefined;
        }
        const { value, done } = await this.#reader.read();
        if (done) break;
        if (this.#closed) return;
        const chunk = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
        if (this.#handlers !== undefined) this.#handlers.onData(chunk);
        else this.#keepEarly(chunk);
      }
    } catch (error) {
      if (!this.#closed && this.#closing === undefined) this.#fail(error);
      return;
    }
    // The peer sent FIN: it is closing. Answer with ours, then wait for it to close the connection.
    this.#peerEnded = true;
    this.#peerEndedSignal?.();
    if (this.#closing === undefined) void this.close();
  }

  #keepEarly(chunk: Buffer): void {
    this.#early.push(chunk);
    this.#earlyBytes += chunk.length;
  }

  /**
   * Flush, send FIN, wait for the peer's FIN (so both sides have read everything), then close the
   * QUIC connection. Closing it with streams still open would hang in @matrixai/quic, and closing before
   * the peer's FIN could cut off data still in flight, hence the order. Bounded by `closeTimeoutMs`.
   */
  async #closeGracefully(): Promise<void> {
    if (this.#closed) return;
    const deadline = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), this.#init.closeTimeoutMs).unref(),
    );
    const flushed = this.#flushing ? new Promise<void>((resolve) => (this.#flushed = resolve)) : undefined;
    const peerEnded = this.#peerEnded
      ? Promise.resolve()
      : new Promise<void>((resolve) => (this.#peerEndedSignal = resolve));
    const sequence = (async () => {
      if (flushed !== undefined) await flushed;
      if (!this.#closed) await this.#writer.close();
      await peerEnded;
    })().catch(() => {});
    const outcome = await Promise.race([sequence.then(() => 'done' as const), deadline, this.#finished]);
    if (outcome === 'finished') return;
    if (outcome === 'timeout') this.#init.logger.debug({ peer: this.remoteNode }, 'graceful close timed out');
    if (this.direction === 'outbound' || outcome === 'timeout' || this.#closed) {
      this.#finish(undefined);
      await this.#init.stop(CLOSE_CODE.normal).catch(() => {});
    } else {
      // The listener side waits for the dialer to close the connection, so the dialer's FIN is delivered.
      const closedByPeer = this.#init.connection.closedP.then(() => 'closed' as const);
      const second = new Promise<'timeout'>((resolve) =>
        setTimeout(() => resolve('timeout'), this.#init.closeTimeoutMs).unref(),
      );
      if ((await Promise.race([closedByPeer, second, this.#finished])) === 'timeout') {
        await this.#init.stop(CLOSE_CODE.normal).catch(() => {});
      }
      this.#finish(undefined);
    }
  }

  readonly #onConnectionError = (event: Event): void => {
    const detail = (event as unknown as { detail?: unknown }).detail;
    if (detail instanceof Error) this.#connectionError ??= detail;
  };

  #onConnectionClosed(): void {
    if (this.#closed) return;
    if (this.#closing !== undefined && this.#peerEnded) {
      this.#finish(undefined);
      return;
    }
    this.#fail(this.#connectionError ?? new Error('the QUIC connection closed'));
  }

  #fail(cause: unknown): void {
    if (this.#closed) return;
    const message = cause instanceof Error ? cause.message : String(cause);
    this.#finish(new ConnectionClosedError(`connection to ${this.remoteNode} failed: ${message}`, { cause }));
    void this.#init.stop(CLOSE_CODE.aborted).catch(() => {});
  }

  #finish(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    this.#batch.clear();
    this.#init.connection.removeEventListener(
      quicEvents.EventQUICConnectionError.name,
      this.#onConnectionError,
    );
    this.#resumeReading?.();
    this.#resolveFinished();
    this.#init.onClosed(this);
    if (this.#handlers !== undefined) this.#notifyClose();
  }

  #notifyClose(): void {
    if (this.#closeNotified) return;
    this.#closeNotified = true;
    this.#handlers?.onClose(this.#closeError);
  }
}
