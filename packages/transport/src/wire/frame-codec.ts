import { FrameTooLargeError, MalformedFrameError, pack } from '@netmachine/core';
import { type FramePool, MIN_POOLED_FRAME_BYTES } from './frame-pool.js';

/**
 * Frames of the node-to-node protocol: `u32 length | u8 tag | body`, the length counting the tag
 * and the body. Bodies are plain msgpack (core's `pack`).
 */

/** Default maximum frame size: 16 MiB (tag + body). */
export const DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024;
/** Bytes before the body: u32 big-endian length (of tag + body), then a one-byte type tag. */
export const FRAME_HEADER_BYTES = 5;

/** Encodes one frame: length prefix, type tag, msgpack body. */
export function encodeFrame(tag: number, value: unknown): Buffer {
  const body = pack(value);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length + 1, 0);
  frame[4] = tag;
  body.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

/** Frames a body that is already msgpack bytes. */
export function encodeRawFrame(tag: number, body: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length + 1, 0);
  frame[4] = tag;
  frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}

export type FrameHandler = (tag: number, body: Buffer) => void;

/**
 * A frame as the bytes `buffer[start, end)` of its body: no view is made for it. `release` is set
 * when `buffer` is a pooled buffer holding this frame alone: calling it (at most once, when nothing
 * uses the buffer any more) lets the pool hand it out again; not calling it only forgoes the reuse.
 */
export type FrameSpanHandler = (
  tag: number,
  buffer: Buffer,
  start: number,
  end: number,
  release: (() => void) | undefined,
) => void;

/**
 * Splits a byte stream into frames. The announced length is checked against the maximum before
 * any buffer is allocated for it; a frame split across chunks is copied once into a buffer of
 * exactly its size. After an error the decoder refuses further input (the connection must close).
 */
export class FrameDecoder {
  readonly #maxFrameSize: number;
  #onFrame: FrameSpanHandler;
  /** Partial header bytes (fewer than 4) carried between chunks. */
  #header: Buffer | null = null;
  /** Buffer for the frame being assembled across chunks, and how much of it is filled. */
  #partial: Buffer | null = null;
  #filled = 0;
  /** How long the frame being assembled is (a pooled buffer may be longer). */
  #partialLength = 0;
  /** Where large frames are assembled, for a decoder made with one. */
  #pool: FramePool | undefined;
  #failed: Error | null = null;

  constructor(onFrame: FrameHandler, maxFrameSize = DEFAULT_MAX_FRAME_SIZE) {
    this.#onFrame = (tag, buffer, start, end) => onFrame(tag, buffer.subarray(start, end));
    this.#maxFrameSize = maxFrameSize;
  }

  /**
   * A decoder that hands each frame over as where its body lies in the buffer read, for a reader
   * that decodes in place: one buffer view less per frame.
   */
  static ofSpans(
    onSpan: FrameSpanHandler,
    maxFrameSize = DEFAULT_MAX_FRAME_SIZE,
    pool?: FramePool,
  ): FrameDecoder {
    const decoder = new FrameDecoder(() => {}, maxFrameSize);
    decoder.#onFrame = onSpan;
    decoder.#pool = pool;
    return decoder;
  }

  /** Bytes held for incomplete frames (bounded by the maximum frame size). */
  get bufferedBytes(): number {
    return (this.#header?.length ?? 0) + this.#filled;
  }

  /** Feeds bytes; calls the handler for each complete frame. Throws a typed error on a bad frame. */
  push(input: Buffer): void {
    if (this.#failed) throw this.#failed;
    try {
      this.#push(input);
    } catch (error) {
      this.#failed = error as Error;
      throw error;
    }
  }

  #push(input: Buffer): void {
    let chunk = input;
    if (this.#partial !== null) {
      const partial = this.#partial;
      const length = this.#partialLength;
      const take = Math.min(length - this.#filled, chunk.length);
      chunk.copy(partial, this.#filled, 0, take);
      this.#filled += take;
      if (this.#filled < length) return;
      this.#partial = null;
      this.#filled = 0;
      this.#emit(partial, length);
      chunk = chunk.subarray(take);
    }
    if (this.#header !== null) {
      chunk = Buffer.concat([this.#header, chunk]);
      this.#header = null;
    }
    let offset = 0;
    while (chunk.length - offset >= 4) {
      const length = chunk.readUInt32BE(offset);
      if (length === 0) throw new MalformedFrameError('frame without a type tag');
      if (length > this.#maxFrameSize) throw new FrameTooLargeError(length, this.#maxFrameSize);
      const start = offset + 4;
      const end = start + length;
      if (end <= chunk.length) {
        // The tag is read from the chunk; the body stays where it is.
        this.#onFrame(chunk[start]!, chunk, start + 1, end, undefined);
        offset = end;
        continue;
      }
      const pool = length >= MIN_POOLED_FRAME_BYTES ? this.#pool : undefined;
      const partial = pool !== undefined ? pool.take(length) : Buffer.allocUnsafe(length);
      chunk.copy(partial, 0, start);
      this.#partial = partial;
      this.#partialLength = length;
      this.#filled = chunk.length - start;
      return;
    }
    if (offset < chunk.length) this.#header = Buffer.from(chunk.subarray(offset));
  }

  #emit(frame: Buffer, length: number): void {
    const pool = length >= MIN_POOLED_FRAME_BYTES ? this.#pool : undefined;
    // The decoder forgot the buffer above: from here on only the handler (and whoever it gives the
    // release to) decides when it is free again.
    const release = pool === undefined ? undefined : () => pool.give(frame);
    this.#onFrame(frame[0]!, frame, 1, length, release);
  }
}
