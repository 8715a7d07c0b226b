import type { QUICConnection, QUICStream } from '@matrixai/quic';
import { events as quicEvents } from '@matrixai/quic';
import { ConnectionClosedError } from '@netmachine/core';
import { BufferedConnection, type BufferedConnectionInit } from '@netmachine/transport';
import { MAX_POOLED_SLAB_BYTES, sharedSlabPool } from '@netmachine/transport/wire';

/** Application error codes this transport sends when it closes a QUIC connection. */
export const CLOSE_CODE = { normal: 0, aborted: 1 } as const;

export interface QuicConnectionInit extends BufferedConnectionInit {
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
  /** Counts each stream write and its size. */
  readonly onStreamWrite: (bytes: number) => void;
}

/**
 * One QUIC connection with one bidirectional stream, as a core `Connection`. Every stream write costs a
 * round of promises, events and timers in @matrixai/quic, so writes are queued and joined: while one
 * stream write is in flight, everything written meanwhile becomes the next single write.
 */
export class QuicConnection extends BufferedConnection {
  readonly protocol = 'quic';
  readonly #quic: QuicConnectionInit;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #resumeReading: (() => void) | undefined;
  /** Reading stopped by the owner (flow control); QUIC's stream window then holds the peer back. */
  #paused = false;
  #inflightBytes = 0;
  #flushing = false;
  #peerEnded = false;
  #connectionError: Error | undefined;
  #flushed: (() => void) | undefined;
  #peerEndedSignal: (() => void) | undefined;
  readonly #finished: Promise<'finished'>;
  #resolveFinished!: () => void;

  constructor(init: QuicConnectionInit) {
    super(init);
    this.#quic = init;
    this.#finished = new Promise((resolve) => {
      this.#resolveFinished = () => resolve('finished');
    });
    this.#writer = init.writer ?? init.stream.writable.getWriter();
    this.#reader = init.reader ?? init.stream.readable.getReader();
    // Rejections are handled where the writer is used; these keep unobserved ones quiet.
    this.#writer.closed.catch(() => {});
    if (init.initialData !== undefined && init.initialData.length > 0) this.received(init.initialData);
    if (init.prelude !== undefined) this.write(init.prelude);
    init.connection.addEventListener(quicEvents.EventQUICConnectionError.name, this.#onConnectionError);
    void init.connection.closedP.then(() => this.#onConnectionClosed());
    void this.#readLoop();
  }

  protected get socketBufferedBytes(): number {
    return this.#inflightBytes;
  }

  close(): Promise<void> {
    this.closing ??= this.#closeGracefully();
    return this.closing;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#resumeReading?.();
  }

  abort(error?: Error): void {
    if (this.isClosed) return;
    this.finish(error ?? new ConnectionClosedError('connection aborted'));
    this.#quic.stream.cancel(error);
    void this.#quic.stop(CLOSE_CODE.aborted).catch(() => {});
  }

  protected flush(): void {
    if (this.#flushing || this.batch.bytes === 0) return;
    this.#flushing = true;
    void this.#flushLoop();
  }

  protected resumeAfterHandlers(): void {
    this.#resumeReading?.();
  }

  protected override finish(error: Error | undefined): void {
    if (this.isClosed) return;
    this.#quic.connection.removeEventListener(
      quicEvents.EventQUICConnectionError.name,
      this.#onConnectionError,
    );
    super.finish(error);
    this.#resumeReading?.();
    this.#resolveFinished();
  }

  async #flushLoop(): Promise<void> {
    try {
      while (this.batch.bytes > 0 && !this.isClosed) {
        // One stream write for everything queued: a QUIC stream write costs far more than a copy.
        const parts = this.batch.take();
        const written = this.batch.takeWritten();
        const bytes = totalBytes(parts);
        // Several parts are joined, into a pooled slab when they fit one: given back once the stream
        // has copied it. Parts joined are free at once; a lone part once the stream has copied it.
        const slab =
          parts.length > 1 && bytes <= MAX_POOLED_SLAB_BYTES ? sharedSlabPool.acquire(bytes) : undefined;
        const data =
          parts.length === 1
            ? (parts[0] as Buffer)
            : slab !== undefined
              ? joinInto(slab, parts)
              : Buffer.concat(parts, bytes);
        if (parts.length > 1 && written !== undefined) callAll(written);
        this.#inflightBytes += data.length;
        this.#quic.onStreamWrite(data.length);
        await this.#writer.write(data);
        if (parts.length === 1 && written !== undefined) callAll(written);
        if (slab !== undefined) sharedSlabPool.recycle(slab);
        this.#inflightBytes -= data.length;
        this.checkDrain();
      }
    } catch (error) {
      if (!this.isClosed) this.#fail(error);
    } finally {
      this.#inflightBytes = 0;
      this.#flushing = false;
      this.#flushed?.();
    }
  }

  async #readLoop(): Promise<void> {
    try {
      while (true) {
        while (this.#paused || this.earlyFull) {
          // Nobody is listening yet, or the owner paused: stop reading and let QUIC flow control hold the peer back.
          await new Promise<void>((resolve) => {
            this.#resumeReading = resolve;
          });
          this.#resumeReading = undefined;
        }
        const { value, done } = await this.#reader.read();
        if (done) break;
        if (this.isClosed) return;
        this.received(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      }
    } catch (error) {
      if (!this.isClosed && this.closing === undefined) this.#fail(error);
      return;
    }
    // The peer sent FIN: it is closing. Answer with ours, then wait for it to close the connection.
    this.#peerEnded = true;
    this.#peerEndedSignal?.();
    if (this.closing === undefined) void this.close();
  }

  /**
   * Flush, send FIN, wait for the peer's FIN (so both sides have read everything), then close the
   * QUIC connection. Closing it with streams still open would hang in @matrixai/quic, and closing before
   * the peer's FIN could cut off data still in flight, hence the order. Bounded by `closeTimeoutMs`.
   */
  async #closeGracefully(): Promise<void> {
    if (this.isClosed) return;
    const deadline = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), this.#quic.closeTimeoutMs).unref(),
    );
    // Writes of this tick are still in the batch: start sending them now, and wait for them.
    this.flush();
    const flushed = this.#flushing ? new Promise<void>((resolve) => (this.#flushed = resolve)) : undefined;
    const peerEnded = this.#peerEnded
      ? Promise.resolve()
      : new Promise<void>((resolve) => (this.#peerEndedSignal = resolve));
    const sequence = (async () => {
      if (flushed !== undefined) await flushed;
      if (!this.isClosed) await this.#writer.close();
      await peerEnded;
    })().catch(() => {});
    const outcome = await Promise.race([sequence.then(() => 'done' as const), deadline, this.#finished]);
    if (outcome === 'finished') return;
    if (outcome === 'timeout') this.#quic.logger.debug({ peer: this.remoteNode }, 'graceful close timed out');
    if (this.direction === 'outbound' || outcome === 'timeout' || this.isClosed) {
      // A timed-out close may cut off bytes still in flight: the peer must not take it for a clean one.
      const code = outcome === 'timeout' ? CLOSE_CODE.aborted : CLOSE_CODE.normal;
      this.finish(outcome === 'timeout' ? new ConnectionClosedError('graceful close timed out') : undefined);
      await this.#quic.stop(code).catch(() => {});
    } else {
      // The listener side waits for the dialer to close the connection, so the dialer's FIN is delivered.
      const closedByPeer = this.#quic.connection.closedP.then(() => 'closed' as const);
      const second = new Promise<'timeout'>((resolve) =>
        setTimeout(() => resolve('timeout'), this.#quic.closeTimeoutMs).unref(),
      );
      if ((await Promise.race([closedByPeer, second, this.#finished])) === 'timeout') {
        await this.#quic.stop(CLOSE_CODE.normal).catch(() => {});
      }
      this.finish(undefined);
    }
  }

  readonly #onConnectionError = (event: Event): void => {
    const detail = (event as unknown as { detail?: unknown }).detail;
    if (detail instanceof Error) this.#connectionError ??= detail;
  };

  #onConnectionClosed(): void {
    if (this.isClosed) return;
    if (this.closing !== undefined && this.#peerEnded) {
      this.finish(undefined);
      return;
    }
    this.#fail(this.#connectionError ?? new Error('the QUIC connection closed'));
  }

  #fail(cause: unknown): void {
    if (this.isClosed) return;
    this.finish(this.failure(cause));
    void this.#quic.stop(CLOSE_CODE.aborted).catch(() => {});
  }
}

function callAll(callbacks: readonly (() => void)[]): void {
  for (const callback of callbacks) callback();
}

function totalBytes(parts: readonly Buffer[]): number {
  let bytes = 0;
  for (const part of parts) bytes += part.length;
  return bytes;
}

/** `parts`, one after the other, at the start of `slab`. */
function joinInto(slab: Buffer, parts: readonly Buffer[]): Buffer {
  let at = 0;
  for (const part of parts) {
    slab.set(part, at);
    at += part.length;
  }
  return slab.subarray(0, at);
}
