import {
  PlumTree,
  type PlumTreeCommand,
  type PlumTreeEvent,
  type PlumTreeMessage,
  type PlumTreeOptions,
  type PlumTreeOutput,
  type PlumTreeTimer,
  plumtree,
  seededRng,
} from '../src/index.js';

// A tiny in-memory driver for PlumTree machines: messages wait in one FIFO queue (so each link keeps its
// order) until `run()` delivers them; timers wait until a test fires them. Every message crosses the
// strict decoder, as on the wire.

interface Queued {
  readonly from: string;
  readonly to: string;
  readonly message: PlumTreeMessage;
}

export class Harness {
  readonly machines = new Map<string, PlumTree>();
  readonly events = new Map<string, PlumTreeEvent[]>();
  readonly timers = new Map<string, { timer: PlumTreeTimer; after: number }[]>();
  /** Every message sent, in order. */
  readonly sent: Queued[] = [];
  readonly #queue: Queued[] = [];
  readonly #outs = new Map<string, PlumTreeOutput>();
  /** Links that lose everything sent over them (`from>to`). */
  readonly cut = new Set<string>();
  now = 0;

  constructor(names: readonly string[], options: PlumTreeOptions = {}) {
    const definition = plumtree(options);
    for (const name of names) {
      this.machines.set(name, new PlumTree(name, seededRng(1), 0, options));
      this.events.set(name, []);
      this.timers.set(name, []);
      this.#outs.set(name, {
        send: (to, message) => {
          const queued = { from: name, to, message: definition.decode(structuredClone(message)) };
          this.sent.push(queued);
          if (!this.cut.has(`${name}>${to}`)) this.#queue.push(queued);
        },
        connect: () => {},
        disconnect: () => {},
        setTimer: (timer, after) => this.timers.get(name)?.push({ timer, after }),
        emit: (event) => this.events.get(name)?.push(event),
      });
    }
  }

  machine(name: string): PlumTree {
    const machine = this.machines.get(name);
    if (machine === undefined) throw new Error(`no machine ${name}`);
    return machine;
  }

  command(name: string, command: PlumTreeCommand): void {
    this.machine(name).handle({ type: 'command', command }, this.now, this.#out(name));
  }

  /** Hands `to` a message from `from` at once (outside the queue). */
  receive(to: string, from: string, message: PlumTreeMessage): void {
    this.machine(to).handle({ type: 'message', from, message }, this.now, this.#out(to));
  }

  #out(name: string): PlumTreeOutput {
    return this.#outs.get(name) as PlumTreeOutput;
  }

  /** Makes `a` and `b` neighbours (both sides). */
  link(a: string, b: string): void {
    this.command(a, { type: 'neighborUp', peer: b });
    this.command(b, { type: 'neighborUp', peer: a });
  }

  /** Delivers queued messages until none is left (or `limit` were delivered); returns how many. */
  run(limit = 100_000): number {
    let delivered = 0;
    while (this.#queue.length > 0 && delivered < limit) {
      const next = this.#queue.shift() as Queued;
      delivered++;
      this.machine(next.to).handle(
        { type: 'message', from: next.from, message: next.message },
        this.now,
        this.#out(next.to),
      );
    }
    return delivered;
  }

  /** Fires (and forgets) every pending timer of `name` that matches `type`; returns how many fired. */
  fire(name: string, type: PlumTreeTimer['type']): number {
    const pending = this.timers.get(name) ?? [];
    const due = pending.filter((t) => t.timer.type === type);
    this.timers.set(
      name,
      pending.filter((t) => t.timer.type !== type),
    );
    for (const { timer } of due) {
      this.machine(name).handle({ type: 'timer', timer }, this.now, this.#out(name));
    }
    return due.length;
  }

  /** Fires flush timers everywhere and delivers, until nothing moves. */
  settle(): void {
    for (let round = 0; round < 100; round++) {
      let moved = this.run();
      for (const name of this.machines.keys()) moved += this.fire(name, 'ihaveFlush');
      if (moved === 0) return;
    }
  }

  delivered(name: string): PlumTreeEvent[] {
    return (this.events.get(name) ?? []).filter((e) => e.type === 'deliver');
  }

  sentOf(type: PlumTreeMessage['type'], from?: string, to?: string): Queued[] {
    return this.sent.filter(
      (s) =>
        s.message.type === type &&
        (from === undefined || s.from === from) &&
        (to === undefined || s.to === to),
    );
  }
}

export const bytes = (...values: number[]) => new Uint8Array(values);
