import type { NodeId } from '@netmachine/core';

interface AckState {
  received: number;
  acked: number;
  /** Acknowledge after this many events: `ackEvery`, or half the publisher's window if smaller. */
  every: number;
  /** The publisher session the link numbers belong to: a restarted publisher numbers from 1 again. */
  epoch: number;
  timer: NodeJS.Timeout | undefined;
}

export interface AckOptions {
  /** Acknowledge after this many events from one publisher node… */
  readonly ackEvery: number;
  /** …or after this long, whichever comes first. */
  readonly ackDelayMs: number;
}

/**
 * The subscriber's cumulative acknowledgements, one stream per publisher node: "every event up to
 * link number n arrived". Sent every `every` events, or after `ackDelayMs` when traffic stops, so
 * the publisher's window always opens again.
 */
export class AckSender {
  private readonly links = new Map<NodeId, AckState>();

  constructor(
    private readonly options: AckOptions,
    private readonly send: (node: NodeId, n: number) => void,
  ) {}

  /** The publisher (re)accepted us: adopt its window, and start over if its session changed. */
  subscribed(node: NodeId, epoch: number, window: number): void {
    const ack = this.state(node);
    ack.every = Math.max(1, Math.min(this.options.ackEvery, Math.floor(window / 2)));
    if (ack.epoch !== epoch) {
      ack.epoch = epoch;
      ack.received = 0;
      ack.acked = 0;
    }
  }

  received(node: NodeId, n: number): void {
    const ack = this.state(node);
    if (n > ack.received) ack.received = n;
    if (ack.received - ack.acked >= ack.every) {
      this.flush(node, ack);
    } else if (ack.timer === undefined && ack.received > ack.acked) {
      ack.timer = setTimeout(() => {
        ack.timer = undefined;
        if (this.links.get(node) === ack && ack.received > ack.acked) this.flush(node, ack);
      }, this.options.ackDelayMs);
      ack.timer.unref();
    }
  }

  /** The connection to `node` is gone, and with it the link numbering. */
  forget(node: NodeId): void {
    const ack = this.links.get(node);
    if (ack?.timer !== undefined) clearTimeout(ack.timer);
    this.links.delete(node);
  }

  clear(): void {
    for (const node of [...this.links.keys()]) this.forget(node);
  }

  private state(node: NodeId): AckState {
    let ack = this.links.get(node);
    if (ack === undefined) {
      ack = { received: 0, acked: 0, every: this.options.ackEvery, epoch: 0, timer: undefined };
      this.links.set(node, ack);
    }
    return ack;
  }

  private flush(node: NodeId, ack: AckState): void {
    if (ack.timer !== undefined) clearTimeout(ack.timer);
    ack.timer = undefined;
    ack.acked = ack.received;
    this.send(node, ack.received);
  }
}
