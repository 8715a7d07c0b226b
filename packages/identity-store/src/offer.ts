import { type Logger, type NodeId, PeerDeniedError, StaleAdvertError } from '@netmachine/core';
import { type AdvertKind, type Counters, rejectReasonOf } from './counters.js';
import { DirectoryFullError } from './errors.js';
import type { OfferOptions } from './options.js';

/** How one kind of advert is checked, stored and applied. */
export interface AdvertOps {
  /** The backend key. */
  key(): string;
  /** Throws a typed error unless the signature verifies and the date is believable. */
  verify(): void;
  /** The banned node behind the advert, if any. */
  banned(): NodeId | undefined;
  /** The version in memory, if any. */
  known(): number | undefined;
  /** True when the advert's identity is not in memory yet (it would take a new slot). */
  isNew(): boolean;
  /** Records of this kind in memory. */
  count(): number;
  encode(): Uint8Array;
  /** Puts the advert into memory and notifies. */
  apply(): void;
}

export interface OfferContext {
  /** Highest advert version whose write is in flight, per key: orders concurrent offers. */
  readonly inflight: Map<string, number>;
  readonly counters: Counters;
  readonly logger: Logger;
  limit(kind: AdvertKind): number;
  write(key: string, value: Uint8Array): Promise<void>;
}

/**
 * The one admission path for every advert: verify, refuse banned and stale, respect the limit, write
 * durably, then apply to memory. Resolves true when stored, false when not newer.
 */
export async function offerAdvert(
  context: OfferContext,
  kind: AdvertKind,
  version: number,
  options: OfferOptions,
  ops: AdvertOps,
): Promise<boolean> {
  const { inflight, counters } = context;
  let key: string;
  try {
    key = ops.key();
    ops.verify();
    const banned = ops.banned();
    if (banned !== undefined) throw new PeerDeniedError(banned, 'banned (trust 0)');
    const writing = inflight.get(key);
    const known = Math.max(ops.known() ?? -1, writing ?? -1);
    if (version <= known) {
      if (options.rejectStale) throw new StaleAdvertError(kind, version, known);
      counters.rejected('stale');
      return false;
    }
    const limit = context.limit(kind);
    if (ops.isNew() && writing === undefined && ops.count() >= limit) {
      throw new DirectoryFullError(kind, limit);
    }
  } catch (error) {
    counters.rejected(rejectReasonOf(error));
    context.logger.debug({ err: error, kind }, 'identity-store refused an advert');
    throw error;
  }
  inflight.set(key, version);
  try {
    await context.write(key, ops.encode());
  } finally {
    if (inflight.get(key) === version) inflight.delete(key);
  }
  // Writes reach the backend in call order, so a newer advert applied meanwhile is also the one on disk.
  if ((ops.known() ?? -1) < version) ops.apply();
  counters.accepted(kind);
  return true;
}
