import type { PeerId, Rng } from '@netmachine/overlay';
import { CountMinSketch } from './count-min.js';

// URPS: a uniform sampler over the stream of peer ids a node sees (Anceaume, Busnel, Gambs, "Uniform
// node sampling service robust against collusions of malicious nodes", DSN 2013, the knowledge-free
// strategy). A count-min sketch estimates how often each id has been seen; an id enters the bounded
// sample memory with probability (smallest estimate in the memory) / (its own estimate), replacing a
// random member. Ids that colluders push again and again are thus admitted no more often than ids seen
// once, so the memory tends to a uniform sample of the distinct ids in the stream, whatever their
// frequencies. The memory keeps the item (an entry, with its filter) so routing can use it.

export interface UniformSamplerConfig {
  /**
   * An id whose estimate exceeds this many times the median estimate of the memory is over-represented:
   * never admitted, dropped from the memory, and flagged to TAPS (which neither keeps nor relays it as
   * trusted).
   */
  readonly overRepresented: number;
  /** Sample memory size (ids kept). */
  readonly memory: number;
  /** Count-min sketch width (counters per row). */
  readonly sketchWidth: number;
  /** Count-min sketch depth (rows). */
  readonly sketchDepth: number;
}

export const DEFAULT_URPS_CONFIG: UniformSamplerConfig = {
  memory: 128,
  sketchWidth: 2048,
  sketchDepth: 4,
  overRepresented: 3,
};

/** Offers between two recomputations of the memory's median estimate. */
const MEDIAN_EVERY = 32;

interface Slot<T> {
  readonly id: PeerId;
  item: T;
  /** The id's estimate when last seen (estimates only grow, so this is a lower bound of the current one). */
  estimate: number;
}

export class UniformSampler<T> {
  readonly config: UniformSamplerConfig;
  readonly #rng: Rng;
  readonly #sketch: CountMinSketch;
  readonly #slots: Slot<T>[] = [];
  readonly #index = new Map<PeerId, Slot<T>>();
  #offered = 0;
  #admitted = 0;
  #excluded = 0;
  #median = 1;

  constructor(rng: Rng, config: Partial<UniformSamplerConfig> = {}) {
    this.config = { ...DEFAULT_URPS_CONFIG, ...config };
    if (!Number.isInteger(this.config.memory) || this.config.memory < 1)
      throw new RangeError(`URPS memory must be a positive integer, got ${this.config.memory}`);
    this.#rng = rng;
    this.#sketch = new CountMinSketch(this.config.sketchWidth, this.config.sketchDepth, rng);
  }

  /** Ids offered so far, and how many of them entered the memory. */
  get counters(): { offered: number; admitted: number; excluded: number } {
    return { offered: this.#offered, admitted: this.#admitted, excluded: this.#excluded };
  }

  /** True when `id` is seen far more often than the ids in the memory (see `overRepresented`). */
  isOverRepresented(id: PeerId): boolean {
    return this.#sketch.estimate(id) > this.config.overRepresented * this.#median;
  }

  get size(): number {
    return this.#slots.length;
  }

  /** Feeds one id of the stream (with the item to keep for it, e.g. its entry). */
  offer(id: PeerId, item: T): void {
    this.#offered++;
    const estimate = this.#sketch.add(id);
    if (this.#offered % MEDIAN_EVERY === 0) this.#updateMedian();
    const present = this.#index.get(id);
    if (
      estimate > this.config.overRepresented * this.#median &&
      this.#slots.length >= this.config.memory / 2
    ) {
      this.#excluded++;
      if (present !== undefined) this.remove(id);
      return;
    }
    if (present !== undefined) {
      present.item = item;
      present.estimate = estimate;
      return;
    }
    if (this.#slots.length < this.config.memory) {
      this.#insert({ id, item, estimate }, -1);
      return;
    }
    let min = Number.POSITIVE_INFINITY;
    for (const slot of this.#slots) if (slot.estimate < min) min = slot.estimate;
    if (this.#rng.next() * estimate < min)
      this.#insert({ id, item, estimate }, this.#rng.int(this.#slots.length));
  }

  #updateMedian(): void {
    if (this.#slots.length === 0) return;
    const estimates = this.#slots.map((s) => s.estimate).sort((a, b) => a - b);
    this.#median = Math.max(1, estimates[estimates.length >> 1] as number);
  }

  #insert(slot: Slot<T>, replace: number): void {
    this.#admitted++;
    if (replace < 0) {
      this.#slots.push(slot);
    } else {
      const old = this.#slots[replace] as Slot<T>;
      this.#index.delete(old.id);
      this.#slots[replace] = slot;
    }
    this.#index.set(slot.id, slot);
  }

  /** Forgets an id (e.g. a peer found unreachable). */
  remove(id: PeerId): void {
    const slot = this.#index.get(id);
    if (slot === undefined) return;
    this.#index.delete(id);
    const i = this.#slots.indexOf(slot);
    const last = this.#slots.pop() as Slot<T>;
    if (i < this.#slots.length) this.#slots[i] = last;
  }

  /** One sample: a uniformly chosen member of the memory, or undefined while it is empty. */
  sample(): { readonly id: PeerId; readonly item: T } | undefined {
    if (this.#slots.length === 0) return undefined;
    return this.#slots[this.#rng.int(this.#slots.length)];
  }

  /** Every id in the memory with its item. */
  *entries(): IterableIterator<{ readonly id: PeerId; readonly item: T }> {
    yield* this.#slots;
  }

  has(id: PeerId): boolean {
    return this.#index.has(id);
  }
}
