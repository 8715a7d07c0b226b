export { type IdentityBackend, MemoryBackend } from './backend.js';
export {
  type ChangeListener,
  type ChangesOptions,
  DEFAULT_CHANGE_BUFFER,
  type IdentityChange,
  type NodeChangeCause,
} from './changes.js';
export type { AdvertKind, IdentityStoreCounters, RejectReason } from './counters.js';
export { DirectoryFullError } from './errors.js';
export { IdentityStore } from './identity-store.js';
export { LmdbBackend, type LmdbBackendOptions } from './lmdb-backend.js';
export { memoryIdentityStore, type OpenIdentityStoreOptions, openIdentityStore } from './open.js';
export type {
  IdentityStoreLimits,
  IdentityStoreOptions,
  LoadAdvertsResult,
  OfferOptions,
  WriteOptions,
} from './options.js';
export { RecordIndex } from './record-index.js';
export {
  isBanned,
  type LocalNodeState,
  type NodeRecord,
  REPUTATION_MAX,
  REPUTATION_MIN,
  type RttEstimate,
  smoothRtt,
  sortAddresses,
} from './records.js';
