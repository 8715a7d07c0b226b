import type { EngineMessage, NodeId } from '@netmachine/core';

interface Entry {
  readonly message: EngineMessage;
  readonly deadline: number;
}

/**
 * Messages waiting for a relay link to come up, per destination. Bounded per destination and in
 * all; when full, the new message is refused (the caller reports it undeliverable) so what already
 * waits keeps its order.
 */
export class PendingMessages {
  readonly #byDestination = new Map<NodeId, Entry[]>();
  #size = 0;

  constructor(
    readonly perDestination: number,
    readonly total: number,
  ) {}

  get size(): number {
    return this.#size;
  }

  push(destination: NodeId, message: EngineMessage, deadline: number): boolean {
    if (this.#size >= this.total) return false;
    let entries = this.#byDestination.get(destination);
    if (entries === undefined) {
      entries = [];
      this.#byDestination.set(destination, entries);
    }
    if (entries.length >= this.perDestination) return false;
    entries.push({ message, deadline });
    this.#size++;
    return true;
  }

  destinations(): NodeId[] {
    return [...this.#byDestination.keys()];
  }

  /** Removes and returns what waits for `destination`, oldest first. */
  take(destination: NodeId): EngineMessage[] {
    const entries = this.#byDestination.get(destination) ?? [];
    this.#byDestination.delete(destination);
    this.#size -= entries.length;
    return entries.map((e) => e.message);
  }

  removeExpired(now: number): EngineMessage[] {
    const expired: EngineMessage[] = [];
    for (const [destination, entries] of this.#byDestination) {
      const kept = entries.filter((e) => e.deadline > now);
      for (const e of entries) if (e.deadline <= now) expired.push(e.message);
      if (kept.length === 0) this.#byDestination.delete(destination);
      else this.#byDestination.set(destination, kept);
    }
    this.#size -= expired.length;
    return expired;
  }

  drainAll(): EngineMessage[] {
    const all = [...this.#byDestination.keys()].flatMap((d) => this.take(d));
    return all;
  }
}
