import { join } from 'node:path';
import { type EngineMessage, KeyPair, type NodeId, pack, unpack } from '@netmachine/core';
import { Router } from '@netmachine/router';
import { decodeWireMessage, messageFromWire, messageToWire } from '@netmachine/transport/wire';
import { Storage, StorageEngine, type StorageEngineOptions } from '../src/index.js';
import { tempDir } from './helpers.js';

export interface TestNode {
  readonly node: NodeId;
  readonly keyPair: KeyPair;
  readonly router: Router;
  readonly storage: Storage;
  readonly engine: StorageEngine;
  close(): Promise<void>;
}

/** A node: router, lmdb storage in a temp dir, and the Storage engine spawned as `storage`. */
export async function newNode(
  options: { quotaBytes?: number; chunkSize?: number } & Partial<StorageEngineOptions> = {},
): Promise<TestNode> {
  const keyPair = KeyPair.generate();
  const node = keyPair.id;
  const dir = await tempDir();
  const storage = await Storage.open({
    path: join(dir.path, 'db'),
    gcIntervalMs: 0,
    quotaBytes: options.quotaBytes,
    chunkSize: options.chunkSize,
  });
  const router = new Router({ node });
  const engine = new StorageEngine({ ...options, storage, keyPair });
  router.spawn('storage', engine.handler);
  return {
    node,
    keyPair,
    router,
    storage,
    engine,
    async close() {
      await router.stop();
      await storage.close();
      await dir.cleanup();
    },
  };
}

/**
 * Joins routers as a transport would: each message is encoded in the link wire form and decoded
 * and checked on the other side (so bodies arrive as fresh buffers), crossing on a macrotask.
 */
export function mesh(routers: readonly Router[]): { cut(node: NodeId): void } {
  const byNode = new Map(routers.map((r) => [r.node, r]));
  const down = new Set<NodeId>();
  for (const router of routers) {
    router.setNodeSender({
      canReach: (node) => byNode.has(node) && !down.has(node) && !down.has(router.node),
      send: (message: EngineMessage) => {
        const bytes = pack(messageToWire(message));
        setImmediate(() => {
          const to = byNode.get((message.dst as { node: NodeId }).node);
          if (to === undefined || down.has(to.node)) {
            router.undeliverable(message, new Error('link down'));
            return;
          }
          to.deliver(messageFromWire(decodeWireMessage(unpack(bytes)), router.node, to.node));
        });
      },
    });
  }
  return {
    cut(node) {
      down.add(node);
    },
  };
}
