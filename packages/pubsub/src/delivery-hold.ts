import type { NodeId, TopicId } from '@netmachine/core';
import type { TopicEvent } from './protocol.js';

/** One message from a publisher node: its events, delivered in order, acknowledged once all are. */
interface HeldMessage {
  readonly events: readonly TopicEvent[];
  /** The first event not yet handed to the local subscribers. */
  next: number;
  /** The link number to acknowledge once every event is delivered. */
  readonly n: number | undefined;
  readonly id: number;
}

export interface DeliveryHoldIo {
  /** Events `topic`'s local subscribers can take now (the fewest free mailbox places; Infinity if none). */
  room(topic: TopicId): number;
  /** Checks one event and hands it to the local subscribers. */
  deliver(from: NodeId, event: TopicEvent, id: number): void;
  /** Acknowledges link number `n` to the publisher node `from` (its message's events are all delivered). */
  ack(from: NodeId, event: TopicEvent, n: number): void;
  /** `from` sent more than it may have unacknowledged: the message is dropped. */
  overflow(from: NodeId, events: readonly TopicEvent[]): void;
}

/**
 * Hands events from publisher nodes to the local subscribers only as fast as their mailboxes take
 * them, and acknowledges a message only once all its events are in. A message that finds a mailbox
 * full waits here, with everything after it from the same node (order is per node), and is tried
 * again every `retryMs`; unacknowledged, it closes the publisher's window, so the publisher stops
 * sending instead of this node refusing what it already acknowledged. Bounded: a node may have at
 * most `maxHeldEvents` waiting (a publisher keeps to its window, far below); past that its
 * messages are dropped and counted.
 */
export class DeliveryHold {
  readonly #held = new Map<NodeId, { messages: HeldMessage[]; events: number }>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly io: DeliveryHoldIo,
    private readonly maxHeldEvents: number,
    private readonly retryMs = 1,
  ) {}

  offer(from: NodeId, events: readonly TopicEvent[], n: number | undefined, id: number): void {
    const message: HeldMessage = { events, next: 0, n, id };
    const queue = this.#held.get(from);
    if (queue === undefined) {
      if (this.#deliver(from, message)) return;
      this.#held.set(from, { messages: [message], events: events.length - message.next });
      this.#schedule();
      return;
    }
    if (queue.events + events.length > this.maxHeldEvents) {
      this.io.overflow(from, events);
      return;
    }
    queue.messages.push(message);
    queue.events += events.length;
  }

  /** Drops everything waiting (the engine stops). */
  clear(): void {
    this.#held.clear();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Delivers what room allows; true once the whole message is delivered (and acknowledged). */
  #deliver(from: NodeId, message: HeldMessage): boolean {
    const { events } = message;
    while (message.next < events.length) {
      const room = this.io.room((events[message.next] as TopicEvent).topic);
      if (room <= 0) return false;
      const stop = Math.min(events.length, message.next + room);
      for (; message.next < stop; message.next++)
        this.io.deliver(from, events[message.next] as TopicEvent, message.id);
    }
    if (message.n !== undefined) this.io.ack(from, events[0] as TopicEvent, message.n);
    return true;
  }

  readonly #retry = (): void => {
    this.#timer = undefined;
    for (const [from, queue] of this.#held) {
      while (queue.messages.length > 0) {
        const head = queue.messages[0] as HeldMessage;
        const before = head.next;
        const done = this.#deliver(from, head);
        queue.events -= head.next - before;
        if (!done) break;
        queue.messages.shift();
      }
      if (queue.messages.length === 0) this.#held.delete(from);
    }
    if (this.#held.size > 0) this.#schedule();
  };

  #schedule(): void {
    if (this.#timer !== undefined) return;
    // Polling: a mailbox offers no "room again" notification to the pubsub engine.
    this.#timer = setTimeout(this.#retry, this.retryMs);
  }
}
