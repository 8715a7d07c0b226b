import type { PeerId } from './protocol.js';

// A HyParView node's component label: the smallest peer id it has heard of in its component of the
// active-view graph (the root), and that root's epoch (a counter the root advances on each of its shuffle
// ticks). Shuffles carry labels, so a component settles on one root; two settled nodes with different
// roots are in different components. A root that stops advancing is presumed cut off; its last epoch is
// remembered, so that copies of it still circulating do not bring it back.

/** Shuffle ticks a label must hold, here and at a probed peer, before a difference counts. */
export const LABEL_SETTLE_TICKS = 3;
/** Shuffle ticks without a newer epoch from the root before a node presumes it cut off from the root. */
export const LABEL_STALE_TICKS = 8;
/**
 * Epochs a probed peer may be ahead of this node on the same root before the two count as cut apart: a
 * component split from its root keeps the root's last epoch until it goes stale, while the root's side
 * counts on (seen at nine nodes: a group that took its contact's label, then split off, waited 90 s).
 */
export const LABEL_EPOCH_LAG = 3;

export class HyParViewLabel {
  readonly #self: PeerId;
  #root: PeerId;
  #epoch = 0;
  #ownEpoch = 0;
  /** Shuffle ticks since the root changed (counted up to `LABEL_SETTLE_TICKS`). */
  #age = 0;
  /** Shuffle ticks since the root's epoch last advanced. */
  #silence = 0;
  #dead: { root: PeerId; epoch: number } | undefined;

  constructor(self: PeerId) {
    this.#self = self;
    this.#root = self;
  }

  get root(): PeerId {
    return this.#root;
  }

  get epoch(): number {
    return this.#epoch;
  }

  /** The label has held for `LABEL_SETTLE_TICKS` ticks. */
  get settled(): boolean {
    return this.#age >= LABEL_SETTLE_TICKS;
  }

  /** The label as messages carry it. */
  fields(): { root: PeerId; epoch: number } {
    return { root: this.#root, epoch: this.#epoch };
  }

  /** Adopts a smaller root, or a newer epoch of the current one, heard from this node's component. */
  learn(root: PeerId | undefined, epoch: number | undefined): void {
    if (root === undefined || epoch === undefined || root === this.#self) return;
    const dead = this.#dead;
    if (dead !== undefined && root === dead.root && epoch <= dead.epoch) return;
    if (root < this.#root) {
      this.#root = root;
      this.#epoch = epoch;
      this.#age = 0;
      this.#silence = 0;
    } else if (root === this.#root && epoch > this.#epoch) {
      this.#epoch = epoch;
      this.#silence = 0;
    }
  }

  /**
   * On each shuffle tick: a root counts an epoch; a node whose root has gone silent takes itself as root.
   * A `quick` tick (of the short schedule after start or a loss) does not count towards silence: the
   * root's epochs come at its own pace, which may be the normal period.
   */
  tick(quick = false): void {
    if (this.#age < LABEL_SETTLE_TICKS) this.#age++;
    if (this.#root === this.#self) {
      this.#epoch = ++this.#ownEpoch;
      return;
    }
    if (quick) return;
    if (++this.#silence <= LABEL_STALE_TICKS) return;
    this.#dead = { root: this.#root, epoch: this.#epoch };
    this.#root = this.#self;
    this.#epoch = ++this.#ownEpoch;
    this.#age = 0;
    this.#silence = 0;
  }

  /**
   * Whether a peer's settled label puts it in another component: another root, or the same root more
   * than `LABEL_EPOCH_LAG` epochs ahead (this node's side lost the root and has not noticed yet).
   */
  apart(root: PeerId, epoch: number): boolean {
    if (root !== this.#root) return true;
    return root !== this.#self && epoch > this.#epoch + LABEL_EPOCH_LAG;
  }
}
