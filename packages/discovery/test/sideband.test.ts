import {
  type DomainAdvert,
  type EngineClient,
  type EngineContext,
  type EngineMessage,
  KeyPair,
  type NodeAdvert,
  type NodeId,
  nodeAdvertToWire,
  signDomainAdvert,
  signNodeAdvert,
} from '@netmachine/core';
import type { RunnerRouter } from '@netmachine/overlay';
import { describe, expect, it } from 'vitest';
import type { DiscoveryMessage } from '../src/machines/messages.js';
import { ADVERTS_ENGINE, ADVERTS_PROTOCOL } from '../src/service/adverts.js';
import type { DiscoveryDirectory, DiscoveryDomains } from '../src/service/options.js';
import { AdvertsSideband, advertisingRouter } from '../src/service/sideband.js';

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent } as never;

/**
 * A router that records what its clients send, in order, and a directory whose stores finish when the
 * test says: enough to order an announcement against the answer it precedes.
 */
function parts(self: KeyPair) {
  const sent: { to: NodeId; name: string; body: unknown }[] = [];
  let handler: ((m: EngineMessage, ctx: EngineContext) => void) | undefined;
  const client = (): EngineClient =>
    ({
      send: (dst: { node: NodeId; name: string }, body: unknown) => {
        sent.push({ to: dst.node, name: dst.name, body });
      },
      stop: async () => undefined,
    }) as unknown as EngineClient;
  const router = {
    node: self.id,
    spawn: (_name: string, h: typeof handler) => {
      handler = h;
      return { stop: async () => undefined };
    },
    client,
  };
  const stored = new Map<NodeId, NodeAdvert>();
  const finishes: (() => void)[] = [];
  const directory = {
    node: (id: NodeId) => {
      const advert = stored.get(id);
      return advert ? { advert } : undefined;
    },
    offerNodeAdvert: (advert: NodeAdvert) =>
      new Promise<boolean>((resolve) =>
        finishes.push(() => {
          stored.set(advert.id, advert);
          resolve(true);
        }),
      ),
  } as unknown as DiscoveryDirectory;
  const deliver = (body: unknown) =>
    handler?.({ protocol: ADVERTS_PROTOCOL, body } as EngineMessage, {} as EngineContext);
  return { sent, router, directory, deliver, finishes };
}

describe('advert announcements', () => {
  it('an answer to a node whose advert is still being stored goes after the announcement, both once stored', async () => {
    const self = KeyPair.generate();
    const origin = KeyPair.generate();
    const domainKey = KeyPair.generate();
    const { sent, router, directory, deliver, finishes } = parts(self);
    const sideband = new AdvertsSideband({
      router: router as never,
      directory,
      self: self.id,
      ownEntry: () => undefined,
      localAdvert: () => undefined,
      logger: silent,
    });
    sideband.start();
    const domainAdvert: DomainAdvert = signDomainAdvert(domainKey, {
      name: 'd',
      policy: { kind: 'open' },
      nodes: [],
      protocols: [],
      version: 1,
      created: Date.now(),
    });
    const domains = { advert: () => domainAdvert } as unknown as DiscoveryDomains;

    // The lookup's origin announced itself (its advert is being stored) ...
    const originAdvert = signNodeAdvert(origin, {
      addrs: [{ url: 'tls://127.0.0.1:1', weight: 1 }],
      version: 1,
      created: Date.now(),
    });
    deliver({ t: 'adverts', nodes: [nodeAdvertToWire(originAdvert)], domains: [] });
    expect(finishes).toHaveLength(1);

    // ... and this node answers it while the store is still running.
    const runner = advertisingRouter(router as never, sideband, () => domains) as RunnerRouter;
    const engine = runner.client('discovery', () => undefined);
    const answer: DiscoveryMessage = {
      type: 'lookupReply',
      id: 'q',
      domain: domainAdvert.id,
      members: [],
      path: [origin.id],
    };
    engine.send({ node: origin.id, name: 'discovery' }, answer);
    // Nothing leaves before the origin's address is known: a send now would find no address.
    expect(sent).toEqual([]);

    finishes[0]?.();
    await expect.poll(() => sent.length).toBe(2);
    expect(sent.map((s) => s.name)).toEqual([ADVERTS_ENGINE, 'discovery']);
    const bundle = sent[0]?.body as { domains: unknown[] };
    expect(bundle.domains).toHaveLength(1);
    expect(sent[1]?.body).toBe(answer);
  });
});
