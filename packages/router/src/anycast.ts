import {
  AbortedError,
  type AnycastAddress,
  AnycastFailedError,
  assertEngineName,
  type DomainDirectory,
  type EngineAddress,
  type EngineMessage,
  formatAnycastAddress,
  type NodeId,
  type RequestOptions,
} from '@netmachine/core';

/** At least this long per member, however short the whole request's timeout. */
export const MIN_ATTEMPT_MS = 250;
/** Members tried for one anycast request at most. */
export const MAX_ANYCAST_ATTEMPTS = 16;

export interface AnycastCounters {
  /** Anycast messages and requests sent. */
  sent: number;
  /** Members skipped for the next one (unreachable, timed out, refused). */
  failovers: number;
  /** Anycast messages no member served. */
  failed: number;
}

export const newAnycastCounters = (): AnycastCounters => ({ sent: 0, failovers: 0, failed: 0 });

/**
 * The anycast half of the Router's decision: which member gets the message. The directory orders
 * the members; this tries them in turn until one answers or the request's time is up.
 */
export class AnycastRouting {
  directory: DomainDirectory | undefined;
  readonly counters = newAnycastCounters();

  /** The best member to try first, or an error when none is known. */
  firstCandidate(dst: AnycastAddress, reachable: (node: NodeId) => boolean): EngineAddress | Error {
    assertEngineName(dst.name);
    const node = this.candidates(dst).find(reachable);
    this.counters.sent++;
    if (node === undefined) {
      this.counters.failed++;
      return new AnycastFailedError(formatAnycastAddress(dst), 0);
    }
    return { node, name: dst.name };
  }

  /**
   * Sends a request to one member after another: each gets `attemptTimeoutMs`; the first reply wins.
   * `attempt` sends to one member and resolves with its reply.
   */
  async request<R>(
    dst: AnycastAddress,
    options: RequestOptions,
    defaultTimeoutMs: number,
    attempt: (member: EngineAddress, options: RequestOptions) => Promise<EngineMessage<R>>,
  ): Promise<EngineMessage<R>> {
    assertEngineName(dst.name);
    this.counters.sent++;
    const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    const perAttempt = options.attemptTimeoutMs ?? Math.max(MIN_ATTEMPT_MS, Math.floor(timeoutMs / 4));
    const tried = new Set<NodeId>();
    let lastError: Error | undefined;
    while (tried.size < MAX_ANYCAST_ATTEMPTS) {
      // Asked again each round: failures just reported reorder the members, new ones may have appeared.
      const node = this.candidates(dst).find((n) => !tried.has(n));
      const remaining = deadline - Date.now();
      if (node === undefined || remaining <= 0) break;
      tried.add(node);
      const timeout = Math.min(perAttempt, remaining);
      try {
        return await attempt(
          { node, name: dst.name },
          { ...options, timeoutMs: timeout, expiry: Date.now() + timeout },
        );
      } catch (error) {
        if (error instanceof AbortedError) throw error;
        lastError = error as Error;
        this.counters.failovers++;
        this.directory?.reportFailure(dst, node, lastError);
      }
    }
    this.counters.failed++;
    throw new AnycastFailedError(formatAnycastAddress(dst), tried.size, { cause: lastError });
  }

  private candidates(dst: AnycastAddress): readonly NodeId[] {
    return this.directory?.candidates(dst) ?? [];
  }
}
