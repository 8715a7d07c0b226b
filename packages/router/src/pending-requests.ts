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
  readonly timer: NodeJS.Timeout;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
}

export const DEFAULT_MAX_PENDING_REQUESTS = 65_536;

/**
 * Requests waiting for their reply, keyed by the request's message id (unique per node). A reply
 * settles a request only if it comes from the engine the request went to and is addressed to the
 * engine that asked: anyone else's `replyTo` is just an ordinary message.
 */
export class PendingRequests {
  private readonly pending = new Map<number, Pending>();
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
      const timer = setTimeout(() => {
        if (this.remove(id)) {
          this.onTimeout();
          reject(new RequestTimeoutError(formatEngineAddress(dst), timeoutMs));
        }
      }, timeoutMs);
      timer.unref();
      const onAbort = signal
        ? () => {
            if (this.remove(id)) reject(new AbortedError(signal.reason));
          }
        : undefined;
      if (signal && onAbort) signal.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, { requester, dst, resolve, reject, timer, signal, onAbort });
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

  failRequestsOf(requester: LocalEngine, error: Error): void {
    for (const [id, entry] of this.pending) if (entry.requester === requester) this.fail(id, error);
  }

  /** Fails every request waiting for an engine on `node`. */
  failRequestsTo(node: string, error: Error): number {
    let failed = 0;
    for (const [id, entry] of this.pending) if (entry.dst.node === node && this.fail(id, error)) failed++;
    return failed;
  }

  failAll(error: Error): void {
    for (const id of [...this.pending.keys()]) this.fail(id, error);
  }

  private remove(id: number): boolean {
    const entry = this.pending.get(id);
    if (entry === undefined) return false;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    if (entry.signal && entry.onAbort) entry.signal.removeEventListener('abort', entry.onAbort);
    return true;
  }
}
