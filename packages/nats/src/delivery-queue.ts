import type { EngineMessage } from '@netmachine/core';

/** The protocol name of a message whose sender named none (the router's default too). */
export const DEFAULT_PROTOCOL_NAME = 'msg@1';

/**
 * The mailbox of an attached engine: bounded, policy `reject` (a delivery to a full queue is
 * dropped; the caller counts it), drained by one handler run at a time — the actor rule.
 */
export class DeliveryQueue {
  private readonly items: EngineMessage[] = [];
  private head = 0;
  private running = false;
  private closed = false;

  constructor(
    readonly capacity: number,
    private readonly run: (message: EngineMessage) => Promise<void>,
  ) {}

  get length(): number {
    return this.items.length - this.head;
  }

  push(message: EngineMessage): boolean {
    if (this.closed || this.length >= this.capacity) return false;
    this.items.push(message);
    if (!this.running) void this.drain();
    return true;
  }

  close(): void {
    this.closed = true;
    this.items.length = 0;
    this.head = 0;
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (!this.closed && this.head < this.items.length) {
      const message = this.items[this.head++] as EngineMessage;
      // Compact once the consumed prefix dominates, so the array never holds more than twice the queue.
      if (this.head > 64 && this.head * 2 > this.items.length) {
        this.items.splice(0, this.head);
        this.head = 0;
      }
      await this.run(message);
    }
    this.running = false;
  }
}
