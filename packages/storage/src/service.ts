import { join } from 'node:path';
import {
  type EngineClient,
  type NodeId,
  NotStartedError,
  type Service,
  type ServiceContext,
} from '@netmachine/core';
import type { BlockStoreStats } from './block-store.js';
import { StorageEngine, type StorageEngineCounters, type StorageEngineOptions } from './engine.js';
import type { FetchResult } from './fetch.js';
import type { ProgressCallback } from './progress.js';
import { STORAGE_ENGINE_NAME } from './protocol.js';
import type { ObjectReference } from './reference.js';
import { Storage, type StorageOptions } from './storage.js';

export interface StorageServiceOptions
  extends Omit<StorageOptions, 'path' | 'logger'>,
    Omit<StorageEngineOptions, 'storage' | 'keyPair' | 'logger'> {
  /** The block store's directory (default `blocks` in the node's directory; in memory without one). */
  readonly path?: string;
  /** Mailbox of the `storage` engine (default 4096). */
  readonly mailboxSize?: number;
}

/** What the storage service needs from its node. */
export type StorageServiceContext = Pick<
  ServiceContext,
  'router' | 'keyPair' | 'logger' | 'peers' | 'dataDir'
>;

/**
 * Block storage as a node service: the local store, and the `storage` engine that serves its chunks
 * to peers and fetches from them.
 */
export class StorageService implements Service {
  readonly storage: Storage;
  readonly engine: StorageEngine;
  readonly #context: StorageServiceContext;
  readonly #mailboxSize: number;
  #fetcher: EngineClient | undefined;
  #state: 'new' | 'running' | 'stopped' = 'new';

  constructor(context: StorageServiceContext, storage: Storage, options: StorageServiceOptions = {}) {
    this.#context = context;
    this.storage = storage;
    this.#mailboxSize = options.mailboxSize ?? 4096;
    this.engine = new StorageEngine({
      ...options,
      storage,
      keyPair: context.keyPair,
      logger: context.logger,
    });
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') return;
    this.#state = 'running';
    this.#context.router.spawn(STORAGE_ENGINE_NAME, this.engine.handler, { mailboxSize: this.#mailboxSize });
    this.#fetcher = this.#context.router.client(`${STORAGE_ENGINE_NAME}.fetch`);
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    await this.#fetcher?.stop();
    await this.#context.router.engine(STORAGE_ENGINE_NAME)?.stop();
    await this.storage.close();
  }

  /** Stores a file in the local block store; resolves with its reference once durable. */
  put(
    path: string,
    options: { onProgress?: ProgressCallback; signal?: AbortSignal } = {},
  ): Promise<ObjectReference> {
    return this.storage.putFile(path, options);
  }

  /**
   * Fetches an object into the local store from `peers` (default: every connected node), verifying
   * every chunk; then `storage.getToFile(reference, path)` reads it.
   */
  fetch(
    reference: ObjectReference,
    options: { peers?: readonly NodeId[]; onProgress?: ProgressCallback; signal?: AbortSignal } = {},
  ): Promise<FetchResult> {
    if (this.#fetcher === undefined) return Promise.reject(new NotStartedError('storage service'));
    const peers = options.peers ?? this.#context.peers.connectedNodes();
    return this.engine.fetch(this.#fetcher, reference, peers, {
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  counters(): StorageEngineCounters & BlockStoreStats {
    return { ...this.engine.counters(), ...this.storage.store.counters() };
  }
}

/**
 * The storage service factory: `createNode({ services: { storage: storage() } })`. A node with a
 * directory keeps blocks in lmdb under it; an in-memory node keeps them in memory.
 */
export function storage(options: StorageServiceOptions = {}) {
  return async (context: StorageServiceContext): Promise<StorageService> => {
    const path =
      options.path ?? (context.dataDir === undefined ? undefined : join(context.dataDir, 'blocks'));
    const opened = await Storage.open({ ...options, path, logger: context.logger });
    return new StorageService(context, opened, options);
  };
}
