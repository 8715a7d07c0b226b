import {
  type AnycastAddress,
  type Destination,
  type EngineAddress,
  type EngineContext,
  type EngineHandler,
  type EngineMessage,
  type EngineOptions,
  type EngineRef,
  type FailurePolicy,
  isExpired,
  type Logger,
  type MailboxPolicy,
  type RequestOptions,
  type SendOptions,
  type TopicId,
} from '@netmachine/core';
import { RingQueue } from './ring-queue.js';
import type { Router } from './router.js';

export const DEFAULT_MAILBOX_SIZE = 1024;

/** Messages one run of an engine handles before it lets other engines and I/O in. */
const RUN_BUDGET = 256;

/** What happened to a message offered to a mailbox. */
export const Admission = {
  Queued: 0,
  /** Parked until the mailbox has room (policy `wait`); the sender is held back meanwhile. */
  Parked: 1,
  Rejected: 2,
  Stopped: 3,
} as const;
export type Admission = (typeof Admission)[keyof typeof Admission];

interface ParkedMessage {
  readonly message: EngineMessage;
  readonly sender: LocalEngine | undefined;
  /** For a message from another node: tells its connection there is room again. */
  readonly onRoom: (() => void) | undefined;
}

/** An engine driven from outside a handler (a core interface). */
export type { EngineClient } from '@netmachine/core';

/**
 * One engine on this node: a bounded mailbox, a handler run on one message at a time, and the
 * context the handler acts through. It is both the handler's context and the spawner's reference,
 * which saves an allocation per engine and keeps the two views consistent.
 */
export class LocalEngine implements EngineContext, EngineRef {
  readonly self: EngineAddress;
  readonly logger: Logger;
  private readonly mailbox: RingQueue<EngineMessage>;
  /** Messages waiting for room under policy `wait`; bounded like the mailbox. */
  private readonly parked: RingQueue<ParkedMessage>;
  readonly policy: MailboxPolicy;
  private readonly onError: FailurePolicy;
  /** True while a run is queued or under way (a handler run on arrival counts as one). */
  private scheduled = false;
  private stopped = false;
  /** Messages this engine sent that wait in a full mailbox: it takes no new message until they land. */
  private blockedSends = 0;
  readonly run: () => void;
  private readonly runOnArrival: boolean;

  constructor(
    private readonly router: Router,
    readonly name: string,
    private readonly handler: EngineHandler,
    options: EngineOptions,
    logger: Logger,
  ) {
    this.self = { node: router.node, name };
    this.logger = logger;
    const size = options.mailboxSize ?? DEFAULT_MAILBOX_SIZE;
    this.mailbox = new RingQueue(size);
    this.parked = new RingQueue(options.maxParked ?? size);
    this.policy = options.mailboxPolicy ?? 'reject';
    this.onError = options.onError ?? 'continue';
    this.run = () => this.drain(RUN_BUDGET);
    this.runOnArrival = options.runOnArrival ?? false;
  }

  get address(): EngineAddress {
    return this.self;
  }

  get queued(): number {
    return this.mailbox.length + this.parked.length;
  }

  get capacity(): number {
    return this.mailbox.capacity;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  // --- the mailbox ------------------------------------------------------------------------

  /**
   * Offers a message; the caller counts drops. Never throws. `onRoom` comes with a message from
   * another node: unless the policy is `drop-oldest`, a full mailbox then parks the message and the
   * connection stops reading until `onRoom` is called (backpressure reaches the sending node).
   * `fromAnotherNode`: an idle `runOnArrival` engine handles it now (a local topic event never).
   */
  admit(
    message: EngineMessage,
    sender: LocalEngine | undefined,
    onRoom?: () => void,
    fromAnotherNode = false,
  ): Admission {
    if (this.stopped) return Admission.Stopped;
    if (
      this.runOnArrival &&
      fromAnotherNode &&
      !this.scheduled &&
      this.blockedSends === 0 &&
      this.mailbox.length === 0
    ) {
      this.handleNow(message);
      return Admission.Queued;
    }
    if (this.mailbox.push(message)) {
      this.schedule();
      return Admission.Queued;
    }
    if (onRoom !== undefined && this.policy !== 'drop-oldest') {
      if (!this.parked.push({ message, sender: undefined, onRoom })) {
        this.router.noteMailboxFull(this);
        return Admission.Rejected;
      }
      return Admission.Parked;
    }
    switch (this.policy) {
      case 'drop-oldest': {
        const evicted = this.mailbox.shift() as EngineMessage;
        this.mailbox.push(message);
        this.router.noteEvicted(this, evicted);
        return Admission.Queued;
      }
      case 'wait': {
        // A sender waiting on itself would never wake up: treat that as full.
        if (sender === this || !this.parked.push({ message, sender, onRoom: undefined })) {
          this.router.noteMailboxFull(this);
          return Admission.Rejected;
        }
        if (sender) sender.blockedSends++;
        this.router.noteMailboxFull(this);
        return Admission.Parked;
      }
      default:
        this.router.noteMailboxFull(this);
        return Admission.Rejected;
    }
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    this.router.scheduleRun(this);
  }

  /** Moves parked messages into freed mailbox slots and releases their senders. */
  private unpark(): void {
    while (!this.mailbox.isFull) {
      const entry = this.parked.shift();
      if (!entry) return;
      this.mailbox.push(entry.message);
      const sender = entry.sender;
      if (sender && --sender.blockedSends === 0) sender.resume();
      entry.onRoom?.();
    }
  }

  private resume(): void {
    if (this.mailbox.length > 0) this.schedule();
  }

  /**
   * Runs handlers on queued messages, at most `budget` of them, so a busy engine yields to others
   * (and to I/O). Synchronous while the handlers are: only a handler that returns a promise makes
   * the run wait for it (and the rest of the run continue after it), so the common case allocates
   * no promise per run.
   */
  private drain(budget: number): void {
    while (!this.stopped && this.blockedSends === 0 && budget-- > 0) {
      const message = this.mailbox.shift();
      if (message === undefined) break;
      if (this.parked.length > 0) this.unpark();
      if (message.expiry !== undefined && isExpired(message)) {
        this.router.noteDropped('expired', message);
        continue;
      }
      this.router.tally.delivered++;
      let result: void | Promise<void>;
      try {
        result = this.handler(message, this);
      } catch (error) {
        if (this.failed(error)) return;
        continue;
      }
      if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
        void this.awaitHandler(result as Promise<void>, budget);
        return;
      }
    }
    this.scheduled = false;
    if (!this.stopped && this.blockedSends === 0 && this.mailbox.length > 0) this.schedule();
  }

  /**
   * Runs the handler on a message that found the engine idle, as `drain` would have run it: as one
   * run, so what arrives meanwhile (from the handler itself, too) waits in the mailbox behind it.
   */
  private handleNow(message: EngineMessage): void {
    if (message.expiry !== undefined && isExpired(message)) {
      this.router.noteDropped('expired', message);
      return;
    }
    this.router.tally.delivered++;
    this.scheduled = true;
    let result: void | Promise<void> | undefined;
    try {
      result = this.handler(message, this);
    } catch (error) {
      if (this.failed(error)) return;
    }
    if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
      void this.awaitHandler(result as Promise<void>, RUN_BUDGET);
      return;
    }
    this.scheduled = false;
    if (!this.stopped && this.blockedSends === 0 && this.mailbox.length > 0) this.schedule();
  }

  /** A handler returned a promise: the run goes on once it settles. */
  private async awaitHandler(result: Promise<void>, budget: number): Promise<void> {
    try {
      await result;
    } catch (error) {
      if (this.failed(error)) return;
    }
    this.drain(budget);
  }

  /** A handler failed: counted; true when the engine's policy stops it (the run is over). */
  private failed(error: unknown): boolean {
    this.router.noteHandlerError(this, error);
    if (this.onError !== 'stop') return false;
    this.scheduled = false;
    void this.router.stopEngine(this, error);
    return true;
  }

  /** Stops taking messages; returns what was still queued (the router counts them). */
  close(): EngineMessage[] {
    this.stopped = true;
    const left = this.mailbox.drain();
    for (const entry of this.parked.drain()) {
      left.push(entry.message);
      if (entry.sender && --entry.sender.blockedSends === 0) entry.sender.resume();
      entry.onRoom?.();
    }
    return left;
  }

  // --- EngineRef ------------------------------------------------------------------------------

  stop(): Promise<void> {
    return this.router.stopEngine(this);
  }

  // --- EngineContext: everything delegates to the router, with this engine as the source ----------

  send(dst: Destination | AnycastAddress | string, body: unknown, options?: SendOptions): void {
    this.router.sendFrom(this, dst, body, options);
  }

  request<R = unknown>(
    dst: Destination | AnycastAddress | string,
    body: unknown,
    options?: RequestOptions,
  ): Promise<EngineMessage<R>> {
    return this.router.requestFrom<R>(this, dst, body, options);
  }

  reply(to: EngineMessage, body: unknown, options?: SendOptions): void {
    this.router.replyFrom(this, to, body, options);
  }

  publish(topic: TopicId, body: unknown, options?: SendOptions): void {
    this.router.publishFrom(this, topic, body, options);
  }

  subscribe(topic: TopicId): void {
    this.router.subscribe(this, topic);
  }

  unsubscribe(topic: TopicId): void {
    this.router.unsubscribe(this, topic);
  }

  spawn(name: string, handler: EngineHandler, options?: EngineOptions): EngineRef {
    return this.router.spawn(name, handler, options);
  }
}
