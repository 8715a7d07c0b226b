import { randomBytes } from 'node:crypto';
import { AbortedError, type DomainId } from '@netmachine/core';
import { LookupFailedError } from './errors.js';
import type { LookupResult } from './options.js';

/** Most lookups of this node's own waiting for an answer (the routing machine bounds them too). */
const MAX_PENDING = 256;

interface Pending {
  readonly domain: DomainId;
  settle(result: LookupResult | undefined, error?: Error): void;
}

/**
 * This node's own lookups between the command to the routing machine and its answer: each with a
 * timeout and an abort signal, settled once, counted.
 */
export class Lookups {
  readonly #pending = new Map<string, Pending>();
  readonly counts = { started: 0, answered: 0, failed: 0 };

  constructor(private readonly onAnswer: (result: LookupResult) => void) {}

  /** Starts one: `command(id)` hands it to the machine; resolves with its answer. */
  start(
    domain: DomainId,
    options: { signal?: AbortSignal | undefined; timeoutMs: number },
    command: (id: string) => void,
  ): Promise<LookupResult> {
    if (options.signal?.aborted) return Promise.reject(new AbortedError(options.signal.reason));
    if (this.#pending.size >= MAX_PENDING) {
      return Promise.reject(new LookupFailedError(domain, 'too many lookups in flight'));
    }
    const id = randomBytes(8).toString('hex');
    this.counts.started++;
    return new Promise<LookupResult>((resolve, reject) => {
      const { signal } = options;
      const timeout = setTimeout(
        () => settle(undefined, new LookupFailedError(domain, 'timed out')),
        options.timeoutMs,
      );
      const onAbort = () => settle(undefined, new AbortedError(signal?.reason));
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = (result: LookupResult | undefined, error?: Error) => {
        if (!this.#pending.delete(id)) return;
        clearTimeout(timeout);
        signal?.removeEventListener('abort', onAbort);
        if (result !== undefined) {
          this.counts.answered++;
          this.onAnswer(result);
          resolve(result);
        } else {
          this.counts.failed++;
          reject(error);
        }
      };
      this.#pending.set(id, { domain, settle });
      // The machine may answer at once (this node is a member): the entry is in place before.
      command(id);
    });
  }

  /** The domain a pending lookup is for, or undefined when `id` is not (or no longer) pending. */
  domainOf(id: string): DomainId | undefined {
    return this.#pending.get(id)?.domain;
  }

  answer(id: string, result: LookupResult): void {
    this.#pending.get(id)?.settle(result);
  }

  fail(id: string, reason: string): void {
    const pending = this.#pending.get(id);
    pending?.settle(undefined, new LookupFailedError(pending.domain, reason));
  }

  /** Rejects every pending lookup (the service stops). */
  abortAll(): void {
    for (const pending of [...this.#pending.values()]) {
      pending.settle(undefined, new AbortedError('discovery stopped'));
    }
  }
}
