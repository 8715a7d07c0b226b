import type { EngineMessage } from '@netmachine/core';

export interface QueueEntry {
  readonly message: EngineMessage;
  /** When the message stops being worth delivering (its expiry, or the queue's default wait). */
  readonly deadline: number;
}

/** A bound shared by every node queue of one engine: many nodes cannot add up to unbounded memory. */
export class QueueBudget {
  used = 0;
  constructor(readonly capacity: number) {}
}

/**
 * The bounded FIFO of messages waiting for a node whose connection is down or busy. Policy when
 * full (this queue, or the engine-wide budget): reject the new message (the caller reports it as
 * undeliverable with QueueFullError), so the messages already waiting keep their order and nothing
 * is silently replaced.
 */
export class NodeQueue {
  #entries: (QueueEntry | undefined)[] = [];
  #head = 0;
  #earliest = Number.POSITIVE_INFINITY;

  constructor(
    readonly capacity: number,
    readonly budget: QueueBudget = new QueueBudget(Number.POSITIVE_INFINITY),
  ) {}

  get length(): number {
    return this.#entries.length - this.#head;
  }

  /** The earliest deadline among the queued messages (Infinity when empty). */
  get earliestDeadline(): number {
    return this.#earliest;
  }

  /** Appends a message; false (and nothing queued) when the queue is full. */
  push(message: EngineMessage, deadline: number): boolean {
    if (this.length >= this.capacity || this.budget.used >= this.budget.capacity) return false;
    this.budget.used++;
    this.#entries.push({ message, deadline });
    if (deadline < this.#earliest) this.#earliest = deadline;
    return true;
  }

  /** The entry `index` places from the head (0: the oldest), without taking it. */
  peek(index: number): QueueEntry | undefined {
    return index < 0 ? undefined : this.#entries[this.#head + index];
  }

  /** The oldest message with its deadline, or undefined. */
  shift(): QueueEntry | undefined {
    if (this.#head >= this.#entries.length) return undefined;
    const entry = this.#entries[this.#head];
    this.#entries[this.#head++] = undefined;
    this.budget.used--;
    if (this.#head >= this.#entries.length) this.#clear();
    else if (this.#head > 1024 && this.#head * 2 > this.#entries.length) this.#compact();
    return entry;
  }

  /**
   * Puts entries taken with `shift` back in front, in their order (a dial that sent them was refused
   * before the peer read them). They held places before, so they are taken back even when the
   * queue has filled since: at most one first flight over the bound.
   */
  unshift(entries: readonly QueueEntry[]): void {
    if (entries.length === 0) return;
    this.#entries = [...entries, ...this.#entries.slice(this.#head)];
    this.#head = 0;
    this.budget.used += entries.length;
    for (const entry of entries) if (entry.deadline < this.#earliest) this.#earliest = entry.deadline;
  }

  /** Removes every message whose deadline is at or before `now`, oldest first. */
  removeExpired(now: number): EngineMessage[] {
    if (this.#earliest > now) return [];
    const expired: EngineMessage[] = [];
    const kept: QueueEntry[] = [];
    let earliest = Number.POSITIVE_INFINITY;
    for (let i = this.#head; i < this.#entries.length; i++) {
      const entry = this.#entries[i]!;
      if (entry.deadline <= now) expired.push(entry.message);
      else {
        kept.push(entry);
        if (entry.deadline < earliest) earliest = entry.deadline;
      }
    }
    this.#entries = kept;
    this.#head = 0;
    this.#earliest = earliest;
    this.budget.used -= expired.length;
    return expired;
  }

  /** Empties the queue, returning what was in it, oldest first. */
  drain(): EngineMessage[] {
    const all: EngineMessage[] = [];
    for (let i = this.#head; i < this.#entries.length; i++) all.push(this.#entries[i]!.message);
    this.#clear();
    return all;
  }

  #clear(): void {
    this.budget.used -= this.length;
    this.#entries = [];
    this.#head = 0;
    this.#earliest = Number.POSITIVE_INFINITY;
  }

  #compact(): void {
    this.#entries = this.#entries.slice(this.#head);
    this.#head = 0;
  }
}
