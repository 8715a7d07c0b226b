import type { Logger, NodeId } from '@netmachine/core';
import type { IdentityBackend } from './backend.js';

export interface IdentityStoreLimits {
  nodes?: number;
  engines?: number;
  topics?: number;
  domains?: number;
}

export interface IdentityStoreOptions {
  backend: IdentityBackend;
  logger?: Logger;
  /** Current time in ms (default Date.now); used to refuse adverts from the future. */
  clock?: () => number;
  maxClockSkewMs?: number;
  /** Maximum records per kind (default 100,000 each); a new identity beyond it is refused. */
  limits?: IdentityStoreLimits;
  /** How often RTT measurements are written to the backend (default 10 s). */
  measurementFlushMs?: number;
}

export interface OfferOptions {
  signal?: AbortSignal;
  /** Throw StaleAdvertError instead of resolving false when the advert is not newer. */
  rejectStale?: boolean;
}

export interface WriteOptions {
  signal?: AbortSignal;
}

export interface LoadAdvertsResult {
  /** Nodes whose advert was stored. */
  readonly stored: readonly NodeId[];
  /** Nodes whose configured advert was not newer than the one already known. */
  readonly unchanged: readonly NodeId[];
}
