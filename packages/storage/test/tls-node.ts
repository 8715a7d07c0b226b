import { join } from 'node:path';
import type { NodeId } from '@netmachine/core';
import { createNode } from '@netmachine/node';
import type { Router } from '@netmachine/router';
import { tls } from '@netmachine/transport-tls';
import { type Storage, type StorageEngine, storage } from '../src/index.js';

/** A real node over TLS on 127.0.0.1 with the storage service, built by the node assembly. */
export interface TlsStorageNode {
  readonly id: NodeId;
  readonly router: Router;
  readonly storage: Storage;
  readonly engine: StorageEngine;
  readonly advertText: string;
  addPeer(advertText: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startTlsStorageNode(dir: string): Promise<TlsStorageNode> {
  const node = await createNode({
    transports: [tls()],
    listen: ['tls://127.0.0.1:0'],
    requestTimeoutMs: 60_000,
    services: { storage: storage({ path: join(dir, 'storage'), gcIntervalMs: 0 }) },
  });
  await node.start();
  return {
    id: node.id,
    router: node.router,
    storage: node.services.storage.storage,
    engine: node.services.storage.engine,
    advertText: node.advertText,
    async addPeer(text) {
      await node.addPeer(text);
    },
    stop: () => node.stop(),
  };
}
