/**
 * Replay protection for authenticated envelopes that cross the broker. A broker (or anyone who can
 * subscribe to the subjects) sees every envelope and could publish it again; both guards here
 * make a second copy worthless, in bounded memory.
 */

/**
 * Nonces of announcements accepted within the freshness window. An announcement older than the
 * window is refused by its timestamp, so a nonce need only be remembered that long.
 */
export class NonceCache {
  /** Insertion order is time order: the oldest entries are at the front. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly windowMs: number,
    readonly capacity: number,
  ) {}

  get size(): number {
    return this.seen.size;
  }

  /**
   * Records `nonce`. Returns 'fresh', 'replayed' (already seen) or 'full' (capacity reached with
   * nothing old enough to forget: the caller refuses rather than forgetting a live nonce).
   */
  add(nonce: Uint8Array, now = Date.now()): 'fresh' | 'replayed' | 'full' {
    this.prune(now);
    const key = Buffer.from(nonce.buffer, nonce.byteOffset, nonce.byteLength).toString('base64');
    if (this.seen.has(key)) return 'replayed';
    if (this.seen.size >= this.capacity) return 'full';
    this.seen.set(key, now + this.windowMs);
    return 'fresh';
  }

  private prune(now: number): void {
    for (const [key, forgetAt] of this.seen) {
      if (forgetAt > now) return;
      this.seen.delete(key);
    }
  }
}

/** How far below the highest sequence number seen a late (reordered) one is still accepted. */
export const SEQUENCE_WINDOW = 1024;

/**
 * Accepts each sequence number once. Senders number envelopes upwards; NATS keeps one
 * publisher's order, so in practice each number is simply higher than the last. The window only
 * tolerates reordering and never grows past `SEQUENCE_WINDOW` entries.
 */
export class SequenceWindow {
  private highest = -1;
  private readonly recent = new Set<number>();

  accept(seq: number): boolean {
    if (seq <= this.highest - SEQUENCE_WINDOW || this.recent.has(seq)) return false;
    if (seq > this.highest) this.highest = seq;
    this.recent.add(seq);
    // Forget in bulk, so the set stays under twice the window at an amortised constant cost.
    if (this.recent.size > 2 * SEQUENCE_WINDOW) {
      const floor = this.highest - SEQUENCE_WINDOW;
      for (const old of this.recent) if (old <= floor) this.recent.delete(old);
    }
    return true;
  }
}

/**
 * A bridge session id: its start time (base 36) and a random part. Sessions of one node are
 * ordered by start time, so a process can move on to a newer session without being told and
 * still refuse an older one (a replay of an earlier run's deliveries).
 */
export function newSessionId(now = Date.now(), random = Math.random().toString(36).slice(2, 12)): string {
  return `${now.toString(36)}.${random}`;
}

/** The start time of a session id, or -1 if it is not one. */
export function sessionStart(session: string): number {
  const dot = session.indexOf('.');
  const time = dot > 0 ? Number.parseInt(session.slice(0, dot), 36) : Number.NaN;
  return Number.isSafeInteger(time) ? time : -1;
}
