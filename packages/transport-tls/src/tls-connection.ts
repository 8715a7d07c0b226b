import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ConnectionClosedError } from '@netmachine/core';
import { BufferedConnection, type BufferedConnectionInit } from '@netmachine/transport';

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
      this.flush();
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

  protected flush(): void {
    if (this.isClosed) return;
    const parts = this.batch.take();
    const written = this.batch.takeWritten();
    if (parts.length > 1) this.#socket.cork();
    const last = parts.length - 1;
    for (let i = 0; i < last; i++) this.#socket.write(parts[i] as Buffer);
    // A stream completes its writes in order: once the last is done, every part is. After an error
    // (the socket was destroyed) the bytes are not given back, only left to the GC.
    if (last >= 0) {
      if (written === undefined) this.#socket.write(parts[last] as Buffer);
      else this.#socket.write(parts[last] as Buffer, (error) => (error ? undefined : callAll(written)));
    }
    if (parts.length > 1) this.#socket.uncork();
    this.checkDrain();
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
