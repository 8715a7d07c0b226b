import {
  type EngineMessage,
  isExpired,
  MessageExpiredError,
  type NodeId,
  PeerDeniedError,
  QueueFullError,
  type TransportPrefs,
} from '@netmachine/core';
import { Backoff, type BackoffOptions } from './backoff.js';
import type { ConnectionSession } from './connection-session.js';
import type { TransportDropReason } from './counters.js';
import { NoAddressError } from './errors.js';
import { NodeQueue, type QueueBudget } from './node-queue.js';

/** What a link needs from the engine that owns it. */
export interface LinkHost {
  readonly queueSize: number;
  /** Shared by every link of the engine. */
  readonly queueBudget: QueueBudget;
  readonly defaultQueueTtlMs: number;
  readonly idleTimeoutMs: number;
  readonly backoff: BackoffOptions;
  /** Dials the node and completes the handshake; the engine adopts the session itself. */
  dial(link: NodeLink, signal: AbortSignal): Promise<ConnectionSession>;
  undeliverable(message: EngineMessage, error: Error, reason: TransportDropReason): void;
  connectFailed(link: NodeLink, error: Error, attempt: number): void;
  queueFull(link: NodeLink): void;
  /** The link holds nothing any more (no session, queue, dial or permanence): it may be forgotten. */
  idle(link: NodeLink): void;
}

/** Errors after which retrying is pointless until something changes (an advert, trust). */
function isHopeless(error: Error): boolean {
  return error instanceof NoAddressError || error instanceof PeerDeniedError;
}

/**
 * Everything the engine keeps per peer node: the active session, the bounded queue of messages
 * waiting for it, the dial in flight, reconnection with backoff, and the idle timeout.
 */
export class NodeLink {
  readonly node: NodeId;
  readonly queue: NodeQueue;
  /** The open session messages go to, if any. */
  session: ConnectionSession | undefined;
  /** Kept connected, re-established after every loss. */
  permanent = false;
  /** Preferences of the message that asked for the connection. */
  prefs: TransportPrefs | undefined;
  readonly #host: LinkHost;
  readonly #backoff: Backoff;
  #dialing: AbortController | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  #expiryAt = Number.POSITIVE_INFINITY;
  #idleTimer: NodeJS.Timeout | undefined;
  #waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  /** Callers of `whenQueueEmpty`, told once nothing waits in the queue. */
  #emptyWaiters: Array<() => void> = [];
  #stopped = false;

  constructor(node: NodeId, host: LinkHost) {
    this.node = node;
    this.#host = host;
    this.queue = new NodeQueue(host.queueSize, host.queueBudget);
    this.#backoff = new Backoff(host.backoff);
  }

  get connected(): boolean {
    return this.session !== undefined;
  }

  get busy(): boolean {
    return (
      this.session !== undefined ||
      this.permanent ||
      this.queue.length > 0 ||
      this.#dialing !== undefined ||
      this.#retryTimer !== undefined ||
      this.#waiters.length > 0
    );
  }

  // --- sending ------------------------------------------------------------

  send(message: EngineMessage): void {
    if (isExpired(message)) {
      this.#host.undeliverable(message, new MessageExpiredError(this.node), 'expired');
      return;
    }
    const session = this.session;
    if (session?.accepting && this.queue.length === 0) {
      this.#write(session, message);
      return;
    }
    const deadline = message.expiry ?? Date.now() + this.#host.defaultQueueTtlMs;
    if (!this.queue.push(message, deadline)) {
      const { budget } = this.queue;
      const error =
        this.queue.length < this.queue.capacity
          ? new QueueFullError('transport (all nodes)', budget.capacity)
          : new QueueFullError(`node ${this.node}`, this.queue.capacity);
      this.#host.queueFull(this);
      this.#host.undeliverable(message, error, 'queue-full');
      return;
    }
    if (message.prefs !== undefined) this.prefs = message.prefs;
    this.#scheduleExpiry();
    if (session === undefined) this.ensureConnecting();
  }

  /**
   * Writes a Relay frame on the open session when nothing waits in the queue before it (it would
   * overtake what does) and the session takes more; false, writing nothing, otherwise.
   */
  sendRelayFrame(head: Uint8Array, sealed: Uint8Array): boolean {
    const session = this.session;
    if (!session?.accepting || this.queue.length > 0) return false;
    session.sendRelayFrame(head, sealed);
    return true;
  }

  /** Moves queued messages into the session while it accepts them. */
  pump(): void {
    const now = Date.now();
    let session = this.session;
    while (session?.accepting && this.queue.length > 0) {
      const entry = this.queue.shift()!;
      if (entry.deadline <= now) {
        this.#host.undeliverable(entry.message, new MessageExpiredError(this.node), 'expired');
      } else this.#write(session, entry.message);
      session = this.session;
    }
    this.queueTaken();
  }

  /**
   * Resolves once nothing waits in this link's queue: every message queued so far was handed to a
   * connection or dropped (and reported). A sender that paces itself on the queue waits here rather
   * than polling it.
   */
  whenQueueEmpty(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.#emptyWaiters.push(resolve));
  }

  /** Tells `whenQueueEmpty`'s callers if the queue is empty now (after messages were taken from it). */
  queueTaken(): void {
    if (this.#emptyWaiters.length === 0 || this.queue.length > 0) return;
    for (const resolve of this.#emptyWaiters.splice(0)) resolve();
  }

  #write(session: ConnectionSession, message: EngineMessage): void {
    try {
      session.sendMessage(message);
    } catch (error) {
      this.#host.undeliverable(message, error as Error, 'not-encodable');
    }
  }

  #scheduleExpiry(): void {
    const at = this.queue.earliestDeadline;
    if (at === Number.POSITIVE_INFINITY || (this.#expiryTimer !== undefined && this.#expiryAt <= at)) return;
    clearTimeout(this.#expiryTimer);
    this.#expiryAt = at;
    this.#expiryTimer = setTimeout(() => this.#expire(), Math.max(0, at - Date.now()));
    this.#expiryTimer.unref();
  }

  #expire(): void {
    this.#expiryTimer = undefined;
    this.#expiryAt = Number.POSITIVE_INFINITY;
    for (const message of this.queue.removeExpired(Date.now())) {
      this.#host.undeliverable(message, new MessageExpiredError(this.node), 'expired');
    }
    this.queueTaken();
    this.#scheduleExpiry();
    if (!this.busy) this.#host.idle(this);
  }

  // --- connecting ---------------------------------------------------------

  /** Resolves once a session is open; rejects with the error of the next failed attempt. */
  whenConnected(): Promise<void> {
    if (this.session !== undefined) return Promise.resolve();
    const wait = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    this.ensureConnecting();
    return wait;
  }

  ensureConnecting(): void {
    if (this.#stopped || this.session !== undefined || this.#dialing !== undefined) return;
    if (this.#retryTimer !== undefined) return;
    const controller = new AbortController();
    this.#dialing = controller;
    this.#host.dial(this, controller.signal).then(
      () => {
        // The engine adopted the session (attach) or dropped it as a duplicate.
        if (this.#dialing === controller) this.#dialing = undefined;
      },
      (error: Error) => {
        if (this.#dialing === controller) this.#dialing = undefined;
        if (this.#stopped || controller.signal.aborted) return;
        this.#host.connectFailed(this, error, this.#backoff.attempt + 1);
        for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
        if (isHopeless(error) && !this.permanent) {
          for (const message of this.queue.drain()) {
            this.#host.undeliverable(
              message,
              error,
              error instanceof NoAddressError ? 'no-address' : 'denied',
            );
          }
          this.queueTaken();
        }
        this.scheduleReconnect();
      },
    );
  }

  /** Tries again after a backoff delay, while the link is permanent or has messages waiting. */
  scheduleReconnect(): void {
    if (this.#stopped || this.#retryTimer !== undefined || this.session !== undefined) return;
    if (!this.permanent && this.queue.length === 0) {
      if (!this.busy) this.#host.idle(this);
      return;
    }
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.ensureConnecting();
    }, this.#backoff.next());
    this.#retryTimer.unref();
  }

  /** Makes `session` the active one. */
  attach(session: ConnectionSession): void {
    this.session = session;
    this.#backoff.reset();
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    for (const waiter of this.#waiters.splice(0)) waiter.resolve();
    this.#armIdle();
    this.pump();
  }

  /** Forgets `session` if it is the active one; true when it was. Reconnects when needed. */
  lose(session: ConnectionSession): boolean {
    if (this.session !== session) return false;
    this.session = undefined;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.scheduleReconnect();
    return true;
  }

  // --- idle timeout (ephemeral links) --------------------------------------

  #armIdle(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    if (this.permanent || this.session === undefined) return;
    const idleFor = performance.now() - this.session.lastMessageAt;
    const wait = Math.max(0, this.#host.idleTimeoutMs - idleFor);
    this.#idleTimer = setTimeout(() => this.#checkIdle(), wait);
    this.#idleTimer.unref();
  }

  #checkIdle(): void {
    this.#idleTimer = undefined;
    const session = this.session;
    if (session === undefined || this.permanent) return;
    if (performance.now() - session.lastMessageAt >= this.#host.idleTimeoutMs && this.queue.length === 0) {
      void session.close('idle', 'no messages within the idle timeout');
      return;
    }
    this.#armIdle();
  }

  /** Makes the link permanent or ephemeral (re-arming the idle timeout). */
  setPermanent(permanent: boolean): void {
    this.permanent = permanent;
    this.#armIdle();
  }

  // --- shutdown -----------------------------------------------------------

  /** Stops timers and dials, and hands back every queued message. */
  stop(): EngineMessage[] {
    this.#stopped = true;
    this.#dialing?.abort();
    this.#dialing = undefined;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#expiryTimer);
    clearTimeout(this.#idleTimer);
    this.#retryTimer = undefined;
    this.#expiryTimer = undefined;
    this.#idleTimer = undefined;
    const left = this.queue.drain();
    // The engine reports what was left as undeliverable: nothing waits any more.
    for (const resolve of this.#emptyWaiters.splice(0)) resolve();
    return left;
  }

  /** Rejects the callers of whenConnected (the engine is stopping). */
  rejectWaiters(error: Error): void {
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }
}
