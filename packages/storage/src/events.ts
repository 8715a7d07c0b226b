import { Emitter } from '@netmachine/core';

/** Events a block store and the storage engine report, for logs, metrics and tests. */
export type StorageEvent =
  /** A chunk read from disk no longer matched its id; it was removed and never returned. */
  | { type: 'chunk:corrupt'; chunk: string; source: 'disk' }
  /** A peer sent bytes that do not hash to the chunk id asked for; the chunk is fetched elsewhere. */
  | { type: 'chunk:corrupt'; chunk: string; source: 'peer'; peer: string }
  /** Garbage collection removed expired chunks. */
  | { type: 'chunk:collected'; chunks: number; bytes: number }
  /** A write refused because it would pass the quota. */
  | { type: 'quota:exceeded'; needed: number; used: number; quota: number };

export type StorageEventListener = (event: StorageEvent) => void;

/** The block store's emitter: core's typed emitter over StorageEvent. */
export class StorageEvents extends Emitter<StorageEvent> {}
