import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ConnectionClosedError } from '@netmachine/core';
import { BufferedConnection, type BufferedConnectionInit } from '@netmachine/transport';
import { MAX_POOLED_SLAB_BYTES, sharedSlabPool } from '@netmachine/transport/wire';

export interface TlsConnectionInit extends BufferedConnectionInit {
  readonly socket: TLSSocket;
  /** The TCP socket under `socket`, reset on abort. */
  readonly raw: Socket;
}

/** A verified TLS socket as a core `Connection`: raw bytes, backpressure, graceful close and abort. */
export class TlsConnection extends BufferedConnection {
  readonly protocol = 'tls';
  /** `close()` ends our side only (close_notify, FIN): the peer's last bytes are still read. */
  readonly readsAfterClose = true;
  readonly #socket: TLSSocket;
  readonly #raw: Socket;
  #socketError: Error | undefined;
  /** A write of ours is in the socket and not done yet: what comes meanwhile waits in the batch. */
  #writing = false;

  constructor(init: TlsConnectionInit) {
    super(init, init.socket.writableHighWaterMark);
    this.#socket = init.socket;
    this.#raw = init.raw;
    if (init.initialData !== undefined && init.initialData.length > 0) this.received(init.initialData);
    this.#socket.on('data', this.#onData);
    this.#socket.on('drain', this.#onDrain);
    this.#socket.on('error', this.#onError);
    this.#socket.once('close', this.#onSocketClose);
    if (this.#socket.destroyed) this.finish(new ConnectionClosedError('socket closed during the handshake'));
  }

  protected get socketBufferedBytes(): number {
    return this.#socket.writableLength;
  }

  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    if (this.isClosed) return Promise.resolve();
    this.closing = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.init.logger.debug({ peer: this.remoteNode }, 'graceful close timed out; destroying the socket');
        this.#socket.destroy();
      }, this.init.closeTimeoutMs);
      timer.unref();
      this.#socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.#writeAll();
      // end() sends what is queued, then close_notify and FIN.
      this.#socket.end();
    });
    return this.closing;
  }

  pause(): void {
    if (!this.isClosed) this.#socket.pause();
  }

  resume(): void {
    if (!this.isClosed) this.#socket.resume();
  }

  abort(error?: Error): void {
    if (this.isClosed) return;
    this.finish(error ?? new ConnectionClosedError('connection aborted'));
    // A TCP reset, not a FIN: the peer must see an error, not a clean close.
    try {
      this.#raw.resetAndDestroy();
    } catch {
      // Already closed underneath.
    }
    this.#socket.destroy();
  }

  /**
   * Hands what the batch holds to the socket as one buffer, one write at a time. A TLS write always
   * completes later, and what the socket is given meanwhile waits in its own buffer, from which it
   * leaves as one vectored write that Node copies into a fresh buffer before encrypting it: a copy of
   * every batch pushed while the link was busy, into memory not yet touched. So the batch keeps it
   * instead, and once the write in the socket is done its parts go as they are (a lone part: no copy)
   * or joined into a pooled slab (memory already touched, given back once the socket is done with it).
   */
  protected flush(): void {
    if (this.isClosed || this.#writing) return;
    const parts = this.batch.take();
    if (parts.length === 0) return;
    const written = this.batch.takeWritten();
    let data: Buffer;
    let slab: Buffer | undefined;
    if (parts.length === 1) data = parts[0] as Buffer;
    else {
      const bytes = totalBytes(parts);
      slab = bytes <= MAX_POOLED_SLAB_BYTES ? sharedSlabPool.acquire(bytes) : undefined;
      data = slab !== undefined ? joinInto(slab, parts) : Buffer.concat(parts, bytes);
      // Joined: the parts are free at once.
      if (written !== undefined) callAll(written);
    }
    this.#writing = true;
    this.#socket.write(data, (error) => {
      this.#writing = false;
      // After an error (the socket was destroyed) the bytes are not given back, only left to the GC.
      if (error) return;
      if (slab !== undefined) sharedSlabPool.recycle(slab);
      else if (parts.length === 1 && written !== undefined) callAll(written);
      this.flush();
      this.checkDrain();
    });
    this.checkDrain();
  }

  /** Gives the socket everything at once, behind a write in flight (closing: `end` follows). */
  #writeAll(): void {
    if (this.isClosed) return;
    const parts = this.batch.take();
    const written = this.batch.takeWritten();
    if (parts.length > 1) this.#socket.cork();
    const last = parts.length - 1;
    for (let i = 0; i < last; i++) this.#socket.write(parts[i] as Buffer);
    // A stream completes its writes in order: once the last is done, every part is.
    if (last >= 0) {
      if (written === undefined) this.#socket.write(parts[last] as Buffer);
      else this.#socket.write(parts[last] as Buffer, (error) => (error ? undefined : callAll(written)));
    }
    if (parts.length > 1) this.#socket.uncork();
  }

  protected resumeAfterHandlers(): void {
    if (this.#socket.isPaused()) this.#socket.resume();
  }

  protected override stopReadingEarly(): void {
    this.#socket.pause();
  }

  readonly #onData = (chunk: Buffer): void => {
    this.received(chunk);
  };

  readonly #onDrain = (): void => {
    this.checkDrain();
  };

  readonly #onError = (error: Error): void => {
    this.#socketError ??= error;
  };

  readonly #onSocketClose = (hadError: boolean): void => {
    const error =
      this.#socketError !== undefined
        ? this.failure(this.#socketError)
        : hadError
          ? new ConnectionClosedError(`connection to ${this.remoteNode} failed`)
          : undefined;
    this.finish(error);
  };
}

function callAll(callbacks: readonly (() => void)[]): void {
  for (const callback of callbacks) callback();
}

function totalBytes(parts: readonly Buffer[]): number {
  let bytes = 0;
  for (const part of parts) bytes += part.length;
  return bytes;
}

/** Copies `parts` one after the other into `slab`; returns the filled view. */
function joinInto(slab: Buffer, parts: readonly Buffer[]): Buffer {
  let at = 0;
  for (const part of parts) {
    slab.set(part, at);
    at += part.length;
  }
  return slab.subarray(0, at);
}
