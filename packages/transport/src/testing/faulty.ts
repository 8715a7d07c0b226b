import {
  type Connection,
  ConnectionClosedError,
  type ConnectionHandlers,
  type DialOptions,
  type Listener,
  type ListenOptions,
  type NodeId,
  type Transport,
  type TransportFactory,
} from '@netmachine/core';

/**
 * Faults to inject, read on every write so a test can change them while traffic flows. Faults act
 * on whole writes: the Transport engine writes whole frames, so a dropped, duplicated or reordered
 * write is a lost, duplicated or reordered batch of messages (and a stream that stays parseable).
 */
export interface FaultKnobs {
  /** Probability (0–1) that a write is silently lost. */
  drop?: number;
  /** Delay added to every write, ms (order is kept). */
  delayMs?: number;
  /** Probability that a write is sent twice. */
  duplicate?: number;
  /** Probability that a write is held back and sent after the next one. */
  reorder?: number;
  /** Probability that a write resets the connection instead (both ends see an error). */
  reset?: number;
  /** Nothing passes either way, and nobody is told: connections look open. */
  blackhole?: boolean;
  /** New dials fail at once. */
  refuseDials?: boolean;
}

export interface FaultCounts {
  dropped: number;
  delayed: number;
  duplicated: number;
  reordered: number;
  resets: number;
  blackholed: number;
  refusedDials: number;
}

/** A write held back for reordering is sent anyway after this long, so a quiet link does not stall. */
const REORDER_WINDOW_MS = 20;
const HIGH_WATER_MARK = 64 * 1024;

/** Holds the knobs and the counts, and reaches every connection the wrapped transports made. */
export class FaultController {
  knobs: FaultKnobs;
  readonly counts: FaultCounts = {
    dropped: 0,
    delayed: 0,
    duplicated: 0,
    reordered: 0,
    resets: 0,
    blackholed: 0,
    refusedDials: 0,
  };
  readonly random: () => number;
  readonly #connections = new Set<FaultyConnection>();

  constructor(knobs: FaultKnobs = {}, random: () => number = Math.random) {
    this.knobs = knobs;
    this.random = random;
  }

  get connections(): number {
    return this.#connections.size;
  }

  /** Resets every open connection at once (a network blip). */
  resetAll(error: Error = new ConnectionClosedError('fault: connection reset')): void {
    for (const connection of [...this.#connections]) {
      this.counts.resets++;
      connection.abort(error);
    }
  }

  /** @internal */
  roll(probability: number | undefined): boolean {
    return probability !== undefined && probability > 0 && this.random() < probability;
  }

  /** @internal */
  track(connection: FaultyConnection): void {
    this.#connections.add(connection);
  }

  /** @internal */
  untrack(connection: FaultyConnection): void {
    this.#connections.delete(connection);
  }
}

/** Wraps a transport factory so that its connections suffer the faults `knobs` describes. */
export function faulty(
  factory: TransportFactory,
  knobs: FaultKnobs | FaultController = {},
): TransportFactory & { readonly controller: FaultController } {
  const controller = knobs instanceof FaultController ? knobs : new FaultController(knobs);
  const wrapped: TransportFactory = (context) => new FaultyTransport(factory(context), controller);
  return Object.assign(wrapped, { controller });
}

class FaultyTransport implements Transport {
  readonly protocol: string;

  constructor(
    readonly inner: Transport,
    readonly controller: FaultController,
  ) {
    this.protocol = inner.protocol;
  }

  async dial(address: string, expected: NodeId, options?: DialOptions): Promise<Connection> {
    if (this.controller.knobs.refuseDials) {
      this.controller.counts.refusedDials++;
      throw new ConnectionClosedError(`fault: dial to ${address} refused`);
    }
    return new FaultyConnection(await this.inner.dial(address, expected, options), this.controller);
  }

  listen(address: string, onConnection: (c: Connection) => void, options?: ListenOptions): Promise<Listener> {
    return this.inner.listen(address, (c) => onConnection(new FaultyConnection(c, this.controller)), options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

interface Delayed {
  readonly data: Buffer;
  readonly dueAt: number;
}

class FaultyConnection implements Connection {
  #handlers: ConnectionHandlers | undefined;
  #held: Buffer | undefined;
  #heldTimer: NodeJS.Timeout | undefined;
  #delayed: Delayed[] = [];
  #delayedBytes = 0;
  #delayTimer: NodeJS.Timeout | undefined;
  #needDrain = false;
  #closed = false;

  constructor(
    readonly inner: Connection,
    readonly faults: FaultController,
  ) {
    faults.track(this);
  }

  get remoteNode(): NodeId {
    return this.inner.remoteNode;
  }
  get remoteAddress(): string {
    return this.inner.remoteAddress;
  }
  get direction(): 'inbound' | 'outbound' {
    return this.inner.direction;
  }
  get protocol(): string {
    return this.inner.protocol;
  }
  get bufferedBytes(): number {
    return this.inner.bufferedBytes + this.#delayedBytes + (this.#held?.length ?? 0);
  }

  setHandlers(handlers: ConnectionHandlers): void {
    this.#handlers = handlers;
    this.inner.setHandlers({
      onData: (chunk) => {
        if (this.faults.knobs.blackhole) {
          this.faults.counts.blackholed++;
          return;
        }
        handlers.onData(chunk);
      },
      onDrain: () => {
        if (this.#delayedBytes < HIGH_WATER_MARK) handlers.onDrain();
        else this.#needDrain = true;
      },
      onClose: (error) => {
        this.#finish();
        handlers.onClose(error);
      },
    });
  }

  write(data: Uint8Array): boolean {
    const { knobs, counts } = this.faults;
    if (this.#closed) return false;
    if (knobs.blackhole) {
      counts.blackholed++;
      return true;
    }
    if (this.faults.roll(knobs.reset)) {
      counts.resets++;
      this.abort(new ConnectionClosedError('fault: connection reset'));
      return false;
    }
    if (this.faults.roll(knobs.drop)) {
      counts.dropped++;
      return this.bufferedBytes < HIGH_WATER_MARK;
    }
    // Copies: held and delayed writes outlive the caller's buffer.
    const copy = Buffer.from(data);
    if (this.#held === undefined && this.faults.roll(knobs.reorder)) {
      counts.reordered++;
      this.#held = copy;
      this.#heldTimer = setTimeout(() => this.#releaseHeld(), REORDER_WINDOW_MS);
      return this.bufferedBytes < HIGH_WATER_MARK;
    }
    const out: Buffer[] = [copy];
    if (this.faults.roll(knobs.duplicate)) {
      counts.duplicated++;
      out.push(copy);
    }
    if (this.#held !== undefined) {
      out.push(this.#held);
      this.#held = undefined;
      clearTimeout(this.#heldTimer);
    }
    let ok = true;
    for (const chunk of out) ok = this.#forward(chunk) && ok;
    return ok;
  }

  #releaseHeld(): void {
    const held = this.#held;
    this.#held = undefined;
    if (held !== undefined && !this.#closed) this.#forward(held);
  }

  #forward(chunk: Buffer): boolean {
    const delayMs = this.faults.knobs.delayMs ?? 0;
    if (delayMs <= 0 && this.#delayed.length === 0) return this.inner.write(chunk);
    this.faults.counts.delayed++;
    this.#delayed.push({ data: chunk, dueAt: Date.now() + delayMs });
    this.#delayedBytes += chunk.length;
    this.#scheduleDelayed();
    if (this.bufferedBytes >= HIGH_WATER_MARK) {
      this.#needDrain = true;
      return false;
    }
    return true;
  }

  #scheduleDelayed(): void {
    if (this.#delayTimer !== undefined || this.#delayed.length === 0) return;
    const wait = Math.max(0, this.#delayed[0]!.dueAt - Date.now());
    this.#delayTimer = setTimeout(() => {
      this.#delayTimer = undefined;
      const now = Date.now();
      while (this.#delayed.length > 0 && this.#delayed[0]!.dueAt <= now && !this.#closed) {
        const { data } = this.#delayed.shift()!;
        this.#delayedBytes -= data.length;
        this.inner.write(data);
      }
      if (this.#needDrain && this.bufferedBytes < HIGH_WATER_MARK) {
        this.#needDrain = false;
        this.#handlers?.onDrain();
      }
      this.#scheduleDelayed();
    }, wait);
  }

  async close(): Promise<void> {
    // Graceful: what was held or delayed goes out first.
    this.#releaseHeld();
    clearTimeout(this.#heldTimer);
    while (this.#delayed.length > 0 && !this.#closed) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, this.#delayed[0]!.dueAt - Date.now())));
    }
    await this.inner.close();
  }

  pause(): void {
    this.inner.pause?.();
  }

  resume(): void {
    this.inner.resume?.();
  }

  abort(error?: Error): void {
    this.#finish();
    this.inner.abort(error);
  }

  #finish(): void {
    this.#closed = true;
    clearTimeout(this.#heldTimer);
    clearTimeout(this.#delayTimer);
    this.#delayTimer = undefined;
    this.#held = undefined;
    this.#delayed = [];
    this.#delayedBytes = 0;
    this.faults.untrack(this);
  }
}
