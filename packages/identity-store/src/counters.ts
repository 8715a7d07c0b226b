import {
  AdvertFromFutureError,
  InvalidSignatureError,
  PeerDeniedError,
  StaleAdvertError,
} from '@netmachine/core';
import { DirectoryFullError } from './errors.js';

export type AdvertKind = 'node' | 'engine' | 'topic' | 'domain';

/** Why an offered advert was not stored. */
export type RejectReason = 'invalid-signature' | 'stale' | 'from-future' | 'malformed' | 'banned' | 'full';

/** A snapshot of the store's counters (for logs and the metrics endpoint). */
export interface IdentityStoreCounters {
  /** Adverts stored, by kind. */
  readonly accepted: Readonly<Record<AdvertKind, number>>;
  /** Adverts refused, by reason (a stale advert counts here whether it was reported as false or thrown). */
  readonly rejected: Readonly<Record<RejectReason, number>>;
  /** Records read back from the backend at start. */
  readonly loaded: number;
  /** Records on disk that failed to decode or verify at start: skipped, never trusted. */
  readonly loadSkipped: number;
  /** Backend writes that failed. */
  readonly writeErrors: number;
  /** RTT samples ignored (negative, not finite, absurdly large, or no room for a new node). */
  readonly rttSamplesIgnored: number;
  /** Change listeners that threw. */
  readonly listenerErrors: number;
  /** Changes dropped because a `changes()` reader's buffer was full. */
  readonly changesDropped: number;
}

type Mutable<T> = {
  -readonly [K in keyof T]: T[K] extends object ? { -readonly [P in keyof T[K]]: T[K][P] } : T[K];
};

export class Counters {
  readonly #c: Mutable<IdentityStoreCounters> = {
    accepted: { node: 0, engine: 0, topic: 0, domain: 0 },
    rejected: { 'invalid-signature': 0, stale: 0, 'from-future': 0, malformed: 0, banned: 0, full: 0 },
    loaded: 0,
    loadSkipped: 0,
    writeErrors: 0,
    rttSamplesIgnored: 0,
    listenerErrors: 0,
    changesDropped: 0,
  };

  accepted(kind: AdvertKind): void {
    this.#c.accepted[kind]++;
  }

  rejected(reason: RejectReason): void {
    this.#c.rejected[reason]++;
  }

  bump(
    name:
      | 'loaded'
      | 'loadSkipped'
      | 'writeErrors'
      | 'rttSamplesIgnored'
      | 'listenerErrors'
      | 'changesDropped',
  ): void {
    this.#c[name]++;
  }

  snapshot(): IdentityStoreCounters {
    return { ...this.#c, accepted: { ...this.#c.accepted }, rejected: { ...this.#c.rejected } };
  }
}

/** Classifies an error thrown while checking an advert. */
export function rejectReasonOf(error: unknown): RejectReason {
  if (error instanceof InvalidSignatureError) return 'invalid-signature';
  if (error instanceof StaleAdvertError) return 'stale';
  if (error instanceof AdvertFromFutureError) return 'from-future';
  if (error instanceof PeerDeniedError) return 'banned';
  if (error instanceof DirectoryFullError) return 'full';
  return 'malformed';
}
