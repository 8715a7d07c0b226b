import type { Connection } from '@netmachine/core';
import type { TransportCounters } from './counters.js';

/**
 * The outgoing side of a connection. Frames are collected and written as one buffer at the end of
 * the tick, or at once past `flushBytes`: many small frames cost one write (one syscall, one QUIC
 * stream write) instead of one each. While the connection pushes back, nothing more is written.
 */
export class FrameWriter {
  readonly #connection: Connection;
  readonly #counters: TransportCounters;
  readonly #flushBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #flushScheduled = false;
  #blocked = false;
  #closed = false;

  constructor(connection: Connection, counters: TransportCounters, flushBytes: number) {
    this.#connection = connection;
    this.#counters = counters;
    this.#flushBytes = flushBytes;
  }

  /** True while the connection is above its high-water mark. */
  get blocked(): boolean {
    return this.#blocked;
  }

  enqueue(frame: Buffer): void {
    if (this.#closed) return;
    this.#pending.push(frame);
    this.#pendingBytes += frame.length;
    this.#counters.framesOut++;
    if (this.#pendingBytes >= this.#flushBytes && !this.#blocked) this.flush(false);
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => {
        this.#flushScheduled = false;
        this.flush(false);
      });
    }
  }

  /** Writes every pending frame as one buffer; `force` writes even while pushed back. */
  flush(force: boolean): void {
    if (this.#pending.length === 0 || this.#closed) return;
    if (this.#blocked && !force) return;
    const data =
      this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.writeNow(data);
  }

  /** Writes at once, ahead of anything pending (handshake frames). */
  writeNow(data: Buffer): void {
    this.#counters.writes++;
    this.#counters.bytesOut += data.length;
    if (!this.#connection.write(data)) {
      this.#counters.backpressured++;
      this.#blocked = true;
    }
  }

  /** The connection drained: flush, and say whether writing was blocked until now. */
  drained(): boolean {
    if (!this.#blocked) return false;
    this.#blocked = false;
    this.flush(false);
    return true;
  }

  /** The connection is gone: drop what is pending and take nothing more. */
  discard(): void {
    this.#closed = true;
    this.#pending = [];
    this.#pendingBytes = 0;
  }
}
