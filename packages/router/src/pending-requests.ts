import {
  AbortedError,
  type EngineAddress,
  type EngineMessage,
  formatEngineAddress,
  isTopicAddress,
  QueueFullError,
  RequestTimeoutError,
  sameEngine,
} from '@netmachine/core';
import type { LocalEngine } from './engine.js';

interface Pending {
  readonly requester: LocalEngine;
  readonly dst: EngineAddress;
  readonly resolve: (reply: EngineMessage) => void;
  readonly reject: (error: Error) => void;
  /** When the request times out (`performance.now()` time). */
  readonly deadline: number;
  readonly timeouts: TimeoutQueue;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
}

/**
 * The waiting requests made with one timeout, in the order they were made — which, with one
 * timeout, is also the order of their deadlines — and the one timer that expires them.
 */
interface TimeoutQueue {
  readonly timeoutMs: number;
  readonly entries: Map<number, Pending>;
  timer: NodeJS.Timeout | undefined;
}

export const DEFAULT_MAX_PENDING_REQUESTS = 65_536;

/** setTimeout's largest delay; a later deadline is waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Requests waiting for their reply, keyed by the request's message id (unique per node). A reply
 * settles a request only if it comes from the engine the request went to and is addressed to the
 * engine that asked: anyone else's `replyTo` is just an ordinary message.
 *
 * Timeouts cost no timer per request: requests made with the same timeout share one queue and one
 * timer, armed for the oldest one's deadline. A settled request leaves its queue (a map delete); the
 * timer stays armed and, when it fires, expires what is due and re-arms for the next deadline, or
 * goes away with the queue once it is empty. So a stream of requests creates, arms and clears no
 * timer of its own, and at most one timer per distinct timeout fires per timeout period.
 */
export class PendingRequests {
  private readonly pending = new Map<number, Pending>();
  private readonly queues = new Map<number, TimeoutQueue>();
  onTimeout: () => void = () => {};

  constructor(readonly capacity = DEFAULT_MAX_PENDING_REQUESTS) {}

  get size(): number {
    return this.pending.size;
  }

  add(
    id: number,
    requester: LocalEngine,
    dst: EngineAddress,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<EngineMessage> {
    if (this.pending.size >= this.capacity) {
      return Promise.reject(new QueueFullError('pending requests', this.capacity));
    }
    if (signal?.aborted) return Promise.reject(new AbortedError(signal.reason));
    return new Promise<EngineMessage>((resolve, reject) => {
      const timeouts = this.queueFor(timeoutMs);
      const onAbort = signal
        ? () => {
            if (this.remove(id)) reject(new AbortedError(signal.reason));
          }
        : undefined;
      if (signal && onAbort) signal.addEventListener('abort', onAbort, { once: true });
      const entry: Pending = {
        requester,
        dst,
        resolve,
        reject,
        deadline: performance.now() + timeoutMs,
        timeouts,
        signal,
        onAbort,
      };
      this.pending.set(id, entry);
      timeouts.entries.set(id, entry);
      if (timeouts.timer === undefined) this.arm(timeouts, timeoutMs);
    });
  }

  /** Settles the request `reply` answers, if it is a genuine reply. Returns false otherwise. */
  settle(reply: EngineMessage): boolean {
    if (reply.replyTo === undefined) return false;
    const entry = this.pending.get(reply.replyTo);
    if (entry === undefined) return false;
    if (isTopicAddress(reply.dst) || reply.dst.name !== entry.requester.name) return false;
    if (!sameEngine(reply.src, entry.dst)) return false;
    this.remove(reply.replyTo);
    entry.resolve(reply);
    return true;
  }

  /** Rejects one request (e.g. its message proved undeliverable). */
  fail(id: number, error: Error): boolean {
    const entry = this.pending.get(id);
    if (entry === undefined) return false;
    this.remove(id);
    entry.reject(error);
    return true;
  }

  failRequestsOf(requester: LocalEngine, error: () => Error): void {
    // Made only when a request is waiting: an error's stack trace costs microseconds, and an engine
    // that stops (a client after one exchange) usually has none.
    let made: Error | undefined;
    for (const [id, entry] of this.pending) {
      if (entry.requester !== requester) continue;
      made ??= error();
      this.fail(id, made);
    }
  }

  /** Fails every request waiting for an engine on `node`. */
  failRequestsTo(node: string, error: Error): number {
    let failed = 0;
    for (const [id, entry] of this.pending) if (entry.dst.node === node && this.fail(id, error)) failed++;
    return failed;
  }

  /** Fails every request and stops every timer. */
  failAll(error: Error): void {
    for (const id of [...this.pending.keys()]) this.fail(id, error);
    for (const queue of this.queues.values()) clearTimeout(queue.timer);
    this.queues.clear();
  }

  private queueFor(timeoutMs: number): TimeoutQueue {
    let queue = this.queues.get(timeoutMs);
    if (queue === undefined) {
      queue = { timeoutMs, entries: new Map(), timer: undefined };
      this.queues.set(timeoutMs, queue);
    }
    return queue;
  }

  private arm(queue: TimeoutQueue, delayMs: number): void {
    queue.timer = setTimeout(() => this.expire(queue), Math.min(Math.max(0, delayMs), MAX_TIMER_MS));
    queue.timer.unref();
  }

  /** The queue's timer fired: times out every request that is due, then waits for the next one. */
  private expire(queue: TimeoutQueue): void {
    queue.timer = undefined;
    const now = performance.now();
    for (const [id, entry] of queue.entries) {
      if (entry.deadline > now) {
        this.arm(queue, Math.ceil(entry.deadline - now));
        return;
      }
      this.remove(id);
      this.onTimeout();
      entry.reject(new RequestTimeoutError(formatEngineAddress(entry.dst), queue.timeoutMs));
    }
    if (this.queues.get(queue.timeoutMs) === queue) this.queues.delete(queue.timeoutMs);
  }

  private remove(id: number): boolean {
    const entry = this.pending.get(id);
    if (entry === undefined) return false;
    this.pending.delete(id);
    entry.timeouts.entries.delete(id);
    if (entry.signal && entry.onAbort) entry.signal.removeEventListener('abort', entry.onAbort);
    return true;
  }
}
