import { join } from 'node:path';
import {
  formatNodeAdvert,
  KeyPair,
  type NodeAdvert,
  type NodeId,
  parseNodeAdvert,
  signNodeAdvert,
} from '@netmachine/core';
import { memoryIdentityStore } from '@netmachine/identity-store';
import { Router } from '@netmachine/router';
import { TransportEngine } from '@netmachine/transport';
import { tls } from '@netmachine/transport-tls';
import { Storage, StorageEngine } from '../src/index.js';

/** A real node over TLS on 127.0.0.1: identity store, Transport engine, Router, and the Storage engine. */
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
  const keyPair = KeyPair.generate();
  const id = keyPair.id;
  const identity = await memoryIdentityStore();
  let advert: NodeAdvert | undefined;
  const transport = new TransportEngine({
    keyPair,
    directory: identity,
    transports: [tls()],
    listen: ['tls://127.0.0.1:0'],
    localAdvert: () => advert,
  });
  const router = new Router({ node: id, requestTimeoutMs: 60_000 });
  router.setNodeSender(transport);
  transport.setSink(router);
  const storage = await Storage.open({ path: join(dir, 'storage'), gcIntervalMs: 0 });
  const engine = new StorageEngine({ storage, keyPair });
  router.spawn('storage', engine.handler, { mailboxSize: 4096 });
  await transport.start();
  const now = Date.now();
  advert = signNodeAdvert(keyPair, {
    addrs: transport.listenAddresses.map((url) => ({ url, weight: 100 })),
    version: now,
    created: now,
  });
  return {
    id,
    router,
    storage,
    engine,
    advertText: formatNodeAdvert(advert),
    async addPeer(text) {
      await identity.offerNodeAdvert(parseNodeAdvert(text));
    },
    async stop() {
      await router.stop();
      await transport.stop();
      await identity.stop();
      await storage.close();
    },
  };
}
