import type { Millis, PeerId } from './protocol.js';

// The payloads a PlumTree node has heard announced (IHave) but not yet received, with who announced them:
// the Graft timers work through these announcers in turn. Bounded twice: by ids tracked (`pendingCapacity`;
// an announcement past it is refused) and by announcers per id (`announcersPerId`; later ones are ignored).

export interface Announcer {
  readonly peer: PeerId;
  /** Hops the payload had travelled when this announcer had it. */
  readonly hops: number;
}

export interface Missing {
  readonly announcers: Announcer[];
  /** Index of the next announcer to Graft. */
  next: number;
  /** When it was first announced. */
  readonly since: Millis;
  /** The push number (PlumTree's `#pushes`) when it was announced, or when its graft timer last found it missing. */
  checked: number;
}

/** What an announcement did: began tracking a new id, joined (or was ignored for) a tracked one, or was refused. */
export type AnnounceResult = 'new' | 'known' | 'full';

export class MissingTable {
  readonly #capacity: number;
  readonly #announcersPerId: number;
  readonly #missing = new Map<string, Missing>();

  constructor(capacity: number, announcersPerId: number) {
    this.#capacity = capacity;
    this.#announcersPerId = announcersPerId;
  }

  /** Ids tracked. */
  get size(): number {
    return this.#missing.size;
  }

  has(id: string): boolean {
    return this.#missing.has(id);
  }

  get(id: string): Missing | undefined {
    return this.#missing.get(id);
  }

  /** Every id tracked and its state, oldest announcement first. */
  entries(): IterableIterator<[string, Missing]> {
    return this.#missing.entries();
  }

  /** Stops tracking `id` (delivered, or every announcer tried). */
  delete(id: string): void {
    this.#missing.delete(id);
  }

  /** Stops tracking `id` and returns what was tracked, if anything. */
  take(id: string): Missing | undefined {
    const missing = this.#missing.get(id);
    this.#missing.delete(id);
    return missing;
  }

  /** `peer` announced `id`; `pushes` is the machine's push clock now (see `Missing.checked`). */
  announce(id: string, peer: PeerId, hops: number, now: Millis, pushes: number): AnnounceResult {
    const missing = this.#missing.get(id);
    if (missing !== undefined) {
      if (
        missing.announcers.length < this.#announcersPerId &&
        !missing.announcers.some((a) => a.peer === peer)
      ) {
        missing.announcers.push({ peer, hops });
      }
      return 'known';
    }
    if (this.#missing.size >= this.#capacity) return 'full';
    this.#missing.set(id, { announcers: [{ peer, hops }], next: 0, since: now, checked: pushes });
    return 'new';
  }
}
