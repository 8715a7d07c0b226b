export {
  BlockStore,
  type BlockStoreOptions,
  type BlockStoreStats,
  type ChunkToStore,
  NEVER_EXPIRES,
  type PutStatus,
} from './block-store.js';
export { type ChunkCommitment, verifyCommitment } from './commitment.js';
export { StorageEngine, type StorageEngineCounters, type StorageEngineOptions } from './engine.js';
export {
  ChunkNotFoundError,
  CorruptChunkError,
  InvalidReferenceError,
  QuotaExceededError,
} from './errors.js';
export type { StorageEvent, StorageEventListener, StorageEvents } from './events.js';
export { type FetchOptions, type FetchResult, fetchObject } from './fetch.js';
export type { ReadObjectOptions } from './object-reader.js';
export type { WriteObjectOptions } from './object-writer.js';
export {
  DEFAULT_CHUNK_SIZE,
  MAX_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
  type Progress,
  type ProgressCallback,
} from './progress.js';
export {
  CHUNK_GET_PROTOCOL,
  CHUNK_GET_PROTOCOL_V1,
  CHUNK_PUT_PROTOCOL,
  STORAGE_ENGINE_NAME,
} from './protocol.js';
export { formatReference, type ObjectReference, parseReference } from './reference.js';
export { type ReplicaResult, type ReplicateOptions, replicateObject } from './replicate.js';
export {
  StorageService,
  type StorageServiceContext,
  type StorageServiceOptions,
  storage,
} from './service.js';
export { type GetOptions, type PutOptions, Storage, type StorageOptions } from './storage.js';
