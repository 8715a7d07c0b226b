import { type KeyPair, SIGNATURE_BYTES } from '@netmachine/core';
import { buildLevels, leafHash, MAX_BATCH, pathOf } from './merkle.js';
import { BATCH_CONTEXT, encodeSignedPart, HEADER_BYTES, type TreeEventFields } from './tree-event.js';

export type UnsignedEvent = Omit<TreeEventFields, 'publisher'>;

/**
 * Signs a batch with one Ed25519 signature: each event becomes a leaf of a Merkle tree, the key signs
 * the root, and every event carries the signature and its own path, so it can be checked alone.
 */
export function signBatch(key: KeyPair, events: readonly UnsignedEvent[]): Buffer[] {
  const size = events.length;
  if (size === 0 || size > MAX_BATCH) throw new RangeError(`batch of ${size}`);
  const parts: Buffer[] = [];
  const leaves: Buffer[] = [];
  for (let i = 0; i < size; i++) {
    const event = events[i] as UnsignedEvent;
    const part = encodeSignedPart({ ...event, publisher: key.publicKey }, size, i);
    parts.push(part);
    leaves.push(leafHash(part.subarray(0, HEADER_BYTES + event.payload.length)));
  }
  const levels = buildLevels(leaves);
  const root = (levels[levels.length - 1] as Buffer[])[0] as Buffer;
  const signature = key.sign(Buffer.concat([BATCH_CONTEXT, root]));
  for (let i = 0; i < size; i++) {
    const part = parts[i] as Buffer;
    const at = HEADER_BYTES + (events[i] as UnsignedEvent).payload.length;
    part.set(signature, at);
    part.set(pathOf(levels, i), at + SIGNATURE_BYTES);
  }
  return parts;
}

export interface BatchSignerOptions {
  readonly key: KeyPair;
  /** Most events under one signature (default 256). Reaching it signs at once. */
  readonly maxBatch?: number;
  /** Receives each signed batch, in order. */
  readonly emit: (events: Buffer[]) => void;
  /** Runs the flush after the current turn (default setImmediate; the simulator or a test may pass its own). */
  readonly schedule?: (flush: () => void) => void;
}

/**
 * Adaptive batching: events added in one event-loop turn are signed together after it, up to
 * `maxBatch` (then at once). At a low rate each event is its own batch (no added latency beyond the
 * turn); under load a batch grows and one signature covers it. The pending list never exceeds
 * `maxBatch`, so the signer holds at most one batch of memory.
 */
export class BatchSigner {
  readonly #o: BatchSignerOptions;
  readonly #max: number;
  #pending: UnsignedEvent[] = [];
  #scheduled = false;
  batches = 0;
  events = 0;

  constructor(options: BatchSignerOptions) {
    this.#o = options;
    this.#max = Math.min(Math.max(1, options.maxBatch ?? 256), MAX_BATCH);
  }

  add(event: UnsignedEvent): void {
    this.#pending.push(event);
    if (this.#pending.length >= this.#max) {
      this.flush();
      return;
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    (this.#o.schedule ?? setImmediate)(() => {
      this.#scheduled = false;
      this.flush();
    });
  }

  /** Signs and emits what is pending now. */
  flush(): void {
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.batches++;
    this.events += batch.length;
    this.#o.emit(signBatch(this.#o.key, batch));
  }

  get pending(): number {
    return this.#pending.length;
  }
}
