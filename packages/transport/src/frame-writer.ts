import { bodyEncoded, type Connection, type EngineMessage, type KeyPair } from '@netmachine/core';
import type { PeerTrafficCounters, TransportCounters } from './counters.js';
import { newPeerTrafficCounters } from './counters.js';
import { appendOutgoing } from './outgoing-message.js';
import { FrameSlab } from './wire/frame-slab.js';
import { type SlabPool, sharedSlabPool } from './wire/slab-pool.js';

/**
 * The outgoing side of a connection. Frames are encoded into a slab and written as one buffer at
 * the end of the tick, or at once past `flushBytes`: many small frames cost one write (one syscall,
 * one QUIC stream write) and no buffer each. While the connection pushes back, nothing more is
 * written.
 *
 * "The end of the tick" is `process.nextTick`: it runs once the code that queued the frame, and
 * every microtask it set off, has finished — so a batch of sends, or an engine run over many
 * messages, still leaves as one write — but before the event loop goes on. A reply written from a
 * message handler therefore leaves in the same turn of the loop that read the request, rather than
 * one turn later (a `setImmediate` flush, and the TLS socket's own completion callback, each cost a
 * turn: a round trip paid for two extra turns of the loop on each side).
 *
 * Slabs come from a pool shared by every connection and go back to it once the connection says the
 * socket is done with their bytes (`writeOwned`'s `written`): a busy link reuses a few slabs instead
 * of allocating one per flush. A connection that copies (`write`) gives them back at once.
 */
export class FrameWriter {
  readonly #connection: Connection;
  readonly #counters: TransportCounters;
  readonly #peer: PeerTrafficCounters;
  readonly #flushBytes: number;
  readonly #slab: FrameSlab;
  #flushScheduled = false;
  #blocked = false;
  #closed = false;

  constructor(
    connection: Connection,
    counters: TransportCounters,
    flushBytes: number,
    peer: PeerTrafficCounters = newPeerTrafficCounters(),
    pool: SlabPool = sharedSlabPool,
  ) {
    this.#slab = new FrameSlab(64 * 1024, pool);
    this.#connection = connection;
    this.#counters = counters;
    this.#peer = peer;
    this.#flushBytes = flushBytes;
  }

  /** True while the connection is above its high-water mark. */
  get blocked(): boolean {
    return this.#blocked;
  }

  /** Queues a complete frame. */
  enqueue(frame: Uint8Array): void {
    if (this.#closed) return;
    this.#slab.appendFrame(frame);
    this.#queued();
  }

  /** Queues a complete frame given as two parts (see `FrameSlab.appendFrameParts`). */
  enqueueParts(head: Uint8Array, tail: Uint8Array): void {
    if (this.#closed) return;
    this.#slab.appendFrameParts(head, tail);
    this.#queued();
  }

  /**
   * Encodes and queues `message` as this link sends it (see `appendOutgoing`: signed in strict mode,
   * only this node's); throws a typed error, and queues nothing, when it cannot be sent.
   */
  outgoing(message: EngineMessage, keyPair: KeyPair, strict: boolean, maxFrameSize: number): void {
    if (this.#closed) return;
    appendOutgoing(this.#slab, message, keyPair, strict, maxFrameSize);
    // Its body's bytes are in the slab now, never encoded again (a dial's first flight may be, so
    // only this path says so): what they were lent from may be reused.
    bodyEncoded(message.body);
    this.#queued();
  }

  #queued(): void {
    this.#counters.framesOut++;
    if (this.#slab.pendingBytes >= this.#flushBytes && !this.#blocked) this.flush(false);
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(this.#scheduledFlush);
    }
  }

  readonly #scheduledFlush = (): void => {
    this.#flushScheduled = false;
    this.flush(false);
  };

  /**
   * Writes every pending frame; `force` writes even while pushed back. The slabs go to the
   * connection as they are (it batches writes itself): joining them first would copy large frames once
   * more for nothing.
   */
  flush(force: boolean): void {
    if (this.#closed || (this.#blocked && !force)) return;
    const parts = this.#slab.takeParts();
    if (parts.length === 0) return;
    this.#counters.writes++;
    for (const part of parts) this.#write(part, true);
  }

  /** Writes at once, ahead of anything pending (handshake frames). */
  writeNow(data: Buffer): void {
    this.#counters.writes++;
    this.#write(data, false);
  }

  #write(data: Buffer, fromSlab: boolean): void {
    this.#counters.bytesOut += data.length;
    this.#peer.bytesOut += data.length;
    // The slab hands each buffer out once: the connection may keep it without a copy, and says when
    // it is done with it; a connection that copies is done at once.
    const connection = this.#connection;
    let below: boolean;
    if (connection.writeOwned !== undefined) {
      const slab = this.#slab;
      below = fromSlab
        ? connection.writeOwned(data, () => slab.releasePart(data))
        : connection.writeOwned(data);
    } else {
      below = connection.write(data);
      if (fromSlab) this.#slab.releasePart(data);
    }
    if (!below) {
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
    this.#slab.clear();
  }
}
