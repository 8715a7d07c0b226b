/**
 * The 200-byte bodies every scenario sends, and their check at the receiver.
 *
 * Layout: u32 sequence number, u64 monotonic send time in ns (0 when unused), then 188 bytes where byte i
 * holds (seq + i) & 0xff. The receiver checks the sequence order and sampled pattern bytes, so a
 * duplicated, reordered, truncated or corrupted message is counted as bad rather than as delivered.
 */
export const PAYLOAD_BYTES = 200;
const HEADER_BYTES = 12;
const PATTERN = Uint8Array.from({ length: 512 }, (_, i) => i & 0xff);
/** The 256 pattern tails a payload can have, made once: no view is made per payload. */
const TAILS = Array.from({ length: 256 }, (_, start) =>
  PATTERN.subarray(start, start + PAYLOAD_BYTES - HEADER_BYTES),
);

/**
 * One payload. Every contender's sender makes one per message, so this is kept cheap (about half
 * the CPU it took with a BigInt write and a fresh view of the pattern): the harness's own work is
 * not what the scenarios compare.
 */
export function makePayload(seq: number, sentAtNs = 0n): Buffer {
  const payload = Buffer.allocUnsafe(PAYLOAD_BYTES);
  payload[0] = seq >>> 24;
  payload[1] = seq >>> 16;
  payload[2] = seq >>> 8;
  payload[3] = seq;
  if (sentAtNs === 0n) for (let i = 4; i < HEADER_BYTES; i++) payload[i] = 0;
  else payload.writeBigUInt64BE(sentAtNs, 4);
  payload.set(TAILS[(seq + HEADER_BYTES) & 0xff]!, HEADER_BYTES);
  return payload;
}

export function payloadSeq(payload: Uint8Array): number {
  return ((payload[0]! << 24) | (payload[1]! << 16) | (payload[2]! << 8) | payload[3]!) >>> 0;
}

export function payloadSentAtNs(payload: Uint8Array): bigint {
  return Buffer.from(payload.buffer, payload.byteOffset, payload.length).readBigUInt64BE(4);
}

/** A cheap content check: length and three sampled pattern bytes. */
export function payloadIntact(payload: Uint8Array): boolean {
  if (payload.length !== PAYLOAD_BYTES) return false;
  const seq = payloadSeq(payload);
  return (
    payload[HEADER_BYTES] === ((seq + HEADER_BYTES) & 0xff) &&
    payload[100] === ((seq + 100) & 0xff) &&
    payload[PAYLOAD_BYTES - 1] === ((seq + PAYLOAD_BYTES - 1) & 0xff)
  );
}

/** What a receiver saw: verified deliveries, and the rate over the window after warm-up. */
export interface DeliveryReport {
  readonly received: number;
  /** Messages that failed the content check, or arrived out of order or twice. */
  readonly bad: number;
  /** Deliveries per second after warm-up; undefined when the window was too short to measure. */
  readonly msgsPerSec: number | undefined;
  readonly windowMs: number;
}

/** Spacing and most entries of a DeliveryCounter's history (~10 minutes of a run). */
const HISTORY_STEP_MS = 10;
const HISTORY_MAX = 60_000;

/**
 * Counts and checks deliveries on one ordered channel, and measures the rate from the first delivery
 * past the warm-up to the last delivery.
 */
export class DeliveryCounter {
  #next = 0;
  #received = 0;
  #bad = 0;
  #firstAt = 0;
  #markAt = 0;
  #markCount = 0;
  #lastAt = 0;
  #lastCount = 0;
  /** (time, count) every ~HISTORY_STEP_MS, bounded: what `receivedAt` looks up. */
  readonly #history: number[] = [];
  readonly #warmupMs: number;

  constructor(warmupMs: number) {
    this.#warmupMs = warmupMs;
  }

  get received(): number {
    return this.#received;
  }

  get bad(): number {
    return this.#bad;
  }

  /**
   * How many had been received at wall-clock time `at` (ms since the Unix epoch), to within 64
   * deliveries or HISTORY_STEP_MS: lets the harness count a window's deliveries at the moments it
   * read every process's CPU, however late a busy receiver answers its probe.
   */
  receivedAt(at: number): number {
    const t = at - performance.timeOrigin;
    const history = this.#history;
    let count = 0;
    for (let i = 0; i < history.length && history[i]! <= t; i += 2) count = history[i + 1]!;
    return count;
  }

  /** Wall clock (ms since the Unix epoch) of the first delivery; 0 before it. */
  get firstAt(): number {
    return this.#firstAt === 0 ? 0 : performance.timeOrigin + this.#firstAt;
  }

  deliver(payload: Uint8Array): void {
    if (!payloadIntact(payload) || payloadSeq(payload) !== this.#next) {
      this.#bad++;
      if (payload.length === PAYLOAD_BYTES) this.#next = payloadSeq(payload) + 1;
      return;
    }
    this.#next++;
    const count = ++this.#received;
    // Reading the clock on every message would cost more than some peers spend per message.
    if ((count & 63) !== 0 && count !== 1) return;
    const now = performance.now();
    const history = this.#history;
    if (
      history.length < 2 * HISTORY_MAX &&
      (history.length === 0 || now - history[history.length - 2]! >= HISTORY_STEP_MS)
    )
      history.push(now, count);
    if (count === 1) this.#firstAt = now;
    else if (this.#markAt === 0) {
      if (now - this.#firstAt >= this.#warmupMs) {
        this.#markAt = now;
        this.#markCount = count;
      }
    } else {
      this.#lastAt = now;
      this.#lastCount = count;
    }
  }

  /** The rate over the window from the end of warm-up to the last sampled delivery. */
  report(): DeliveryReport {
    const windowMs = this.#lastAt - this.#markAt;
    const counted = this.#lastCount - this.#markCount;
    const measured = this.#markAt > 0 && windowMs > 0 && counted > 0;
    return {
      received: this.#received,
      bad: this.#bad,
      msgsPerSec: measured ? (counted * 1000) / windowMs : undefined,
      windowMs: measured ? windowMs : 0,
    };
  }
}

/**
 * Splits a byte stream of u32 length-prefixed frames into frames. Copies only when a frame spans
 * chunks; refuses a frame above `maxFrame` before buffering it.
 */
export class FrameSplitter {
  #pending: Buffer | undefined;
  readonly #onFrame: (frame: Uint8Array) => void;
  readonly #maxFrame: number;

  constructor(onFrame: (frame: Uint8Array) => void, maxFrame = 1 << 20) {
    this.#onFrame = onFrame;
    this.#maxFrame = maxFrame;
  }

  push(chunk: Uint8Array): void {
    let buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (this.#pending !== undefined) {
      buffer = Buffer.concat([this.#pending, buffer]);
      this.#pending = undefined;
    }
    let offset = 0;
    while (buffer.length - offset >= 4) {
      const length = buffer.readUInt32BE(offset);
      if (length > this.#maxFrame) throw new Error(`frame of ${length} bytes exceeds ${this.#maxFrame}`);
      if (buffer.length - offset - 4 < length) break;
      this.#onFrame(buffer.subarray(offset + 4, offset + 4 + length));
      offset += 4 + length;
    }
    if (offset < buffer.length) this.#pending = Buffer.from(buffer.subarray(offset));
  }
}

/** One length-prefixed frame holding `payload`: the naive framing of the raw peers. */
export function frame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.set(payload, 4);
  return out;
}
