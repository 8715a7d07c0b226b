import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import {
  type Connection,
  ConnectionClosedError,
  type ConnectionHandlers,
  type Logger,
  type NodeId,
} from '@netmachine/core';
import { WriteBatch } from '@netmachine/transport';

export interface TlsConnectionInit {
  readonly socket: TLSSocket;
  /** The TCP socket under `socket`, reset on abort. */
  readonly raw: Socket;
  readonly remoteNode: NodeId;
  readonly remoteAddress: string;
  readonly direction: 'inbound' | 'outbound';
  /** `write` returns false at or above this many queued bytes. */
  readonly highWaterMark: number;
  /** Bytes kept for the owner before `setHandlers`; above it the socket is paused (backpressure, no loss). */
  readonly maxEarlyBytes: number;
  /** How long a graceful `close` waits for the peer before destroying the socket. */
  readonly closeTimeoutMs: number;
  /** Bytes that arrived with the acceptance byte of the dial handshake. */
  readonly initialData?: Buffer | undefined;
  readonly logger: Logger;
  /** Told once when the connection is closed (the transport forgets it). */
  readonly onClosed: (connection: TlsConnection) => void;
}

/** A verified TLS socket as a core `Connection`: raw bytes, backpressure, graceful close and abort. */
export class TlsConnection implements Connection {
  readonly protocol = 'tls';
  readonly remoteNode: NodeId;
  readonly remoteAddress: string;
  readonly direction: 'inbound' | 'outbound';
  readonly #socket: TLSSocket;
  readonly #init: TlsConnectionInit;
  readonly #highWaterMark: number;
  #handlers: ConnectionHandlers | undefined;
  #early: Buffer[] = [];
  #earlyBytes = 0;
  readonly #batch = new WriteBatch();
  #flushScheduled = false;
  #needDrain = false;
  #closed = false;
  #closeError: Error | undefined;
  #socketError: Error | undefined;
  #closeNotified = false;
  #closing: Promise<void> | undefined;

  constructor(init: TlsConnectionInit) {
    this.#init = init;
    this.#socket = init.socket;
    this.remoteNode = init.remoteNode;
    this.remoteAddress = init.remoteAddress;
    this.direction = init.direction;
    // Our mark must not be below the socket's own: its 'drain' only fires after it has refused a write.
    this.#highWaterMark = Math.max(init.highWaterMark, this.#socket.writableHighWaterMark);
    if (init.initialData !== undefined && init.initialData.length > 0) this.#keepEarly(init.initialData);
    this.#socket.on('data', this.#onData);
    this.#socket.on('drain', this.#onDrain);
    this.#socket.on('error', this.#onError);
    this.#socket.once('close', this.#onSocketClose);
    if (this.#socket.destroyed) this.#finish(new ConnectionClosedError('socket closed during the handshake'));
  }

  get bufferedBytes(): number {
    return this.#closed ? 0 : this.#batch.bytes + this.#socket.writableLength;
  }

  setHandlers(handlers: ConnectionHandlers): void {
    if (this.#handlers !== undefined) throw new Error('setHandlers called twice');
    this.#handlers = handlers;
    const early = this.#early;
    this.#early = [];
    this.#earlyBytes = 0;
    for (const chunk of early) handlers.onData(chunk);
    if (this.#closed) {
      this.#notifyClose();
      return;
    }
    if (this.#socket.isPaused()) this.#socket.resume();
    // A write refused before the handlers existed still deserves its onDrain.
    this.#checkDrain();
  }

  write(data: Uint8Array): boolean {
    if (this.#closed || this.#closing !== undefined) return false;
    // Copied at once (the caller may reuse its buffer); the tick's writes leave together.
    this.#batch.append(data);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(this.#flush);
    }
    const below = this.bufferedBytes < this.#highWaterMark;
    if (!below) this.#needDrain = true;
    return below;
  }

  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    if (this.#closed) return Promise.resolve();
    this.#closing = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#init.logger.debug({ peer: this.remoteNode }, 'graceful close timed out; destroying the socket');
        this.#socket.destroy();
      }, this.#init.closeTimeoutMs);
      timer.unref();
      this.#socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.#flush();
      // end() sends what is queued, then close_notify and FIN.
      this.#socket.end();
    });
    return this.#closing;
  }

  pause(): void {
    if (!this.#closed) this.#socket.pause();
  }

  resume(): void {
    if (!this.#closed) this.#socket.resume();
  }

  abort(error?: Error): void {
    if (this.#closed) return;
    this.#batch.clear();
    this.#finish(error ?? new ConnectionClosedError('connection aborted'));
    // A TCP reset, not a FIN: the peer must see an error, not a clean close.
    try {
      this.#init.raw.resetAndDestroy();
    } catch {
      // Already closed underneath.
    }
    this.#socket.destroy();
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    if (this.#closed) return;
    const parts = this.#batch.take();
    if (parts.length > 1) this.#socket.cork();
    for (const part of parts) this.#socket.write(part);
    if (parts.length > 1) this.#socket.uncork();
    this.#checkDrain();
  };

  #checkDrain(): void {
    if (this.#needDrain && !this.#closed && this.bufferedBytes < this.#highWaterMark) {
      this.#needDrain = false;
      this.#handlers?.onDrain();
    }
  }

  readonly #onData = (chunk: Buffer): void => {
    if (this.#handlers !== undefined) this.#handlers.onData(chunk);
    else this.#keepEarly(chunk);
  };

  #keepEarly(chunk: Buffer): void {
    this.#early.push(chunk);
    this.#earlyBytes += chunk.length;
    if (this.#earlyBytes >= this.#init.maxEarlyBytes) this.#socket.pause();
  }

  readonly #onDrain = (): void => {
    this.#checkDrain();
  };

  readonly #onError = (error: Error): void => {
    this.#socketError ??= error;
  };

  readonly #onSocketClose = (hadError: boolean): void => {
    const error =
      this.#socketError !== undefined
        ? new ConnectionClosedError(`connection to ${this.remoteNode} failed: ${this.#socketError.message}`, {
            cause: this.#socketError,
          })
        : hadError
          ? new ConnectionClosedError(`connection to ${this.remoteNode} failed`)
          : undefined;
    this.#finish(error);
  };

  #finish(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    this.#init.onClosed(this);
    if (this.#handlers !== undefined) this.#notifyClose();
  }

  #notifyClose(): void {
    if (this.#closeNotified) return;
    this.#closeNotified = true;
    this.#handlers?.onClose(this.#closeError);
  }
}
