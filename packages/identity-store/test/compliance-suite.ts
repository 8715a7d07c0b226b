import {
  AbortedError,
  AdvertFromFutureError,
  formatNodeAdvert,
  InvalidIdentityError,
  InvalidSignatureError,
  type Logger,
  MalformedFrameError,
  type NodeAdvert,
  type NodeDirectory,
  type NodeId,
  NotStartedError,
  nodeAdvertToWire,
  noopLogger,
  PeerDeniedError,
  pack,
  SchemaError,
  StaleAdvertError,
  TRUST_DEFAULT,
} from '@netmachine/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DirectoryFullError,
  type IdentityChange,
  type IdentityStore,
  type IdentityStoreOptions,
} from '../src/index.js';
import { domainAdvert, engineAdvert, idOf, newKey, nodeAdvert, topicAdvert } from './helpers.js';

const encodeNodeAdvertForTests = (a: NodeAdvert): Uint8Array => pack(nodeAdvertToWire(a));

/** A logger that keeps the messages of warnings. */
function capturingLogger(warnings: string[]): Logger {
  const logger: Logger = {
    ...noopLogger,
    warn: (objectOrMessage: object | string, message?: string) => {
      warnings.push(typeof objectOrMessage === 'string' ? objectOrMessage : (message ?? ''));
    },
    child: () => logger,
  };
  return logger;
}

/** One persistent place (a directory, a memory backend) and ways to open stores over it. */
export interface ComplianceHarness {
  /** Opens and starts a store over the place; the same place every time. */
  open(options?: Omit<IdentityStoreOptions, 'backend'>): Promise<IdentityStore>;
  /** Writes raw bytes under a key, bypassing the store (which must be stopped). */
  putRaw(key: string, bytes: Uint8Array): Promise<void>;
  cleanup(): Promise<void>;
}

/** The behaviour every backend must give the identity store. */
export function identityStoreCompliance(name: string, makeHarness: () => Promise<ComplianceHarness>): void {
  describe(`identity store compliance: ${name}`, () => {
    let harness: ComplianceHarness;
    let store: IdentityStore;

    beforeEach(async () => {
      harness = await makeHarness();
      store = await harness.open();
    });
    afterEach(async () => {
      await store.stop();
      await harness.cleanup();
    });

    const reopen = async (options?: Omit<IdentityStoreOptions, 'backend'>): Promise<IdentityStore> => {
      await store.stop();
      store = await harness.open(options);
      return store;
    };

    it('stores a signed node advert and serves it synchronously, addresses by preference', async () => {
      const key = newKey();
      const addrs = [
        { url: 'tls://127.0.0.1:1', weight: 5 },
        { url: 'quic://127.0.0.1:2', weight: 200 },
        { url: 'tls://127.0.0.1:3', weight: 5 },
      ];
      expect(store.node(idOf(key))).toBeUndefined();
      expect(await store.offerNodeAdvert(nodeAdvert(key, 1, addrs))).toBe(true);
      const record = store.node(idOf(key));
      expect(record?.advert?.version).toBe(1);
      expect(record?.trust).toBe(TRUST_DEFAULT);
      expect(record?.addresses.map((a) => a.url)).toEqual([
        'quic://127.0.0.1:2',
        'tls://127.0.0.1:1',
        'tls://127.0.0.1:3',
      ]);
      expect([...store.nodes()].map((n) => n.id)).toEqual([idOf(key)]);
      expect(store.counters().accepted.node).toBe(1);
    });

    it('rejects adverts not signed by the advertised identity, and counts them', async () => {
      const key = newKey();
      const other = newKey();
      const genuine = nodeAdvert(key, 1);
      const tampered = { ...genuine, addrs: [{ url: 'tls://10.0.0.1:1', weight: 1 }] };
      await expect(store.offerNodeAdvert(tampered)).rejects.toBeInstanceOf(InvalidSignatureError);
      const impostor = { ...nodeAdvert(other, 1), id: idOf(key) };
      await expect(store.offerNodeAdvert(impostor)).rejects.toBeInstanceOf(InvalidSignatureError);
      const topic = { ...topicAdvert(newKey(), key, 1), version: 2 };
      await expect(store.offerTopicAdvert(topic)).rejects.toBeInstanceOf(InvalidSignatureError);
      expect(store.node(idOf(key))).toBeUndefined();
      expect(store.counters().rejected['invalid-signature']).toBe(3);
    });

    it('orders adverts by version: lower and equal are refused, newer replaces', async () => {
      const key = newKey();
      expect(await store.offerNodeAdvert(nodeAdvert(key, 5))).toBe(true);
      expect(await store.offerNodeAdvert(nodeAdvert(key, 4))).toBe(false);
      expect(await store.offerNodeAdvert(nodeAdvert(key, 5, [{ url: 'tls://10.0.0.9:9', weight: 1 }]))).toBe(
        false,
      );
      await expect(store.offerNodeAdvert(nodeAdvert(key, 3), { rejectStale: true })).rejects.toBeInstanceOf(
        StaleAdvertError,
      );
      expect(store.node(idOf(key))?.advert?.version).toBe(5);
      expect(store.node(idOf(key))?.addresses[0]?.url).toBe('tls://127.0.0.1:7100');
      expect(await store.offerNodeAdvert(nodeAdvert(key, 6, [{ url: 'tls://10.0.0.6:6', weight: 1 }]))).toBe(
        true,
      );
      expect(store.node(idOf(key))?.addresses.map((a) => a.url)).toEqual(['tls://10.0.0.6:6']);
      expect(store.counters().rejected.stale).toBe(3);
    });

    it('keeps the newest of concurrent offers, in memory and in the backend', async () => {
      const key = newKey();
      const results = await Promise.all([7, 9, 8].map((v) => store.offerNodeAdvert(nodeAdvert(key, v))));
      expect(results).toEqual([true, true, false]);
      expect(store.node(idOf(key))?.advert?.version).toBe(9);
      await reopen();
      expect(store.node(idOf(key))?.advert?.version).toBe(9);
    });

    it('refuses adverts dated too far in the future', async () => {
      const key = newKey();
      const future = nodeAdvert(key, 1, undefined, Date.now() + 3_600_000);
      await expect(store.offerNodeAdvert(future)).rejects.toBeInstanceOf(AdvertFromFutureError);
      expect(store.counters().rejected['from-future']).toBe(1);
    });

    it('treats trust 0 as banned: the ban applies at once and survives a reopen', async () => {
      const key = newKey();
      const id = idOf(key);
      await store.offerNodeAdvert(nodeAdvert(key, 1));
      expect(store.trust(id)).toBe(TRUST_DEFAULT);
      expect(store.isBanned(id)).toBe(false);
      const banning = store.setTrust(id, 0);
      expect(store.isBanned(id)).toBe(true);
      await banning;
      await expect(store.offerNodeAdvert(nodeAdvert(key, 2))).rejects.toBeInstanceOf(PeerDeniedError);
      await expect(store.offerEngineAdvert(engineAdvert(key, 'svc', 1))).rejects.toBeInstanceOf(
        PeerDeniedError,
      );
      expect(store.counters().rejected.banned).toBe(2);
      await expect(store.setTrust(id, 256)).rejects.toBeInstanceOf(SchemaError);
      await expect(store.setTrust('not-a-node' as NodeId, 1)).rejects.toBeInstanceOf(InvalidIdentityError);
      await reopen();
      expect(store.isBanned(id)).toBe(true);
      expect(store.node(id)?.advert?.version).toBe(1);
      await store.setTrust(id, 200);
      expect(await store.offerNodeAdvert(nodeAdvert(key, 2))).toBe(true);
      expect(store.node(id)?.trust).toBe(200);
    });

    it('can ban a node it has never seen', async () => {
      const id = idOf(newKey());
      await store.setTrust(id, 0);
      expect(store.node(id)?.advert).toBeUndefined();
      expect(store.isBanned(id)).toBe(true);
    });

    it('smooths RTT samples and persists the estimate', async () => {
      const id = idOf(newKey());
      store.recordRtt(id, 100);
      expect(store.node(id)?.rtt).toEqual({ smoothedMs: 100, varianceMs: 50, lastMs: 100, samples: 1 });
      store.recordRtt(id, 200);
      // SRTT = 7/8·100 + 1/8·200; RTTVAR = 3/4·50 + 1/4·|100 − 200|
      expect(store.node(id)?.rtt).toEqual({ smoothedMs: 112.5, varianceMs: 62.5, lastMs: 200, samples: 2 });
      store.recordRtt(id, -1);
      store.recordRtt(id, Number.NaN);
      store.recordRtt('not-a-node' as NodeId, 5);
      expect(store.node(id)?.rtt?.samples).toBe(2);
      expect(store.counters().rttSamplesIgnored).toBe(3);
      await reopen();
      expect(store.node(id)?.rtt?.smoothedMs).toBe(112.5);
    });

    it('notifies listeners of changes, isolates a throwing listener, and unsubscribes', async () => {
      const key = newKey();
      const seen: IdentityChange[] = [];
      store.onChange(() => {
        throw new Error('listener bug');
      });
      const unsubscribe = store.onChange((c) => seen.push(c));
      await store.offerNodeAdvert(nodeAdvert(key, 1));
      await store.setTrust(idOf(key), 50);
      await store.offerNodeAdvert(nodeAdvert(key, 1)); // not newer: no change
      expect(seen.map((c) => (c.type === 'node:changed' ? c.cause : c.type))).toEqual(['advert', 'trust']);
      expect(seen[1]?.type === 'node:changed' && seen[1].record.trust).toBe(50);
      expect(store.counters().listenerErrors).toBe(2);
      unsubscribe();
      await store.setTrust(idOf(key), 60);
      expect(seen).toHaveLength(2);
    });

    it('offers changes as an async iterable whose full buffer drops the oldest and says so', async () => {
      const controller = new AbortController();
      const changes = store.changes({ bufferSize: 2, signal: controller.signal });
      const ids = [newKey(), newKey(), newKey()].map(idOf);
      for (const id of ids) await store.setTrust(id, 10);
      const first = await changes.next();
      expect(first.value).toEqual({ type: 'changes:overflow', dropped: 1 });
      const second = await changes.next();
      expect(second.value?.type === 'node:changed' && second.value.id).toBe(ids[1]);
      const third = await changes.next();
      expect(third.value?.type === 'node:changed' && third.value.id).toBe(ids[2]);
      const waiting = changes.next();
      await store.setTrust(ids[0]!, 11);
      expect((await waiting).value?.type).toBe('node:changed');
      controller.abort();
      expect((await changes.next()).done).toBe(true);
      expect(store.counters().changesDropped).toBe(1);
    });

    it('ends change iterators when the store stops, after the buffered changes', async () => {
      const changes = store.changes();
      const [a, b] = [idOf(newKey()), idOf(newKey())];
      const firstTwo = [changes.next(), changes.next()];
      await store.setTrust(a, 1);
      await store.setTrust(b, 2);
      await store.setTrust(a, 3);
      const received = await Promise.all(firstTwo);
      expect(received.map((r) => r.value?.type === 'node:changed' && r.value.record.trust)).toEqual([1, 2]);
      await store.stop();
      const third = await changes.next();
      expect(third.value?.type === 'node:changed' && third.value.record.trust).toBe(3);
      expect((await changes.next()).done).toBe(true);
      expect((await store.changes().next()).done).toBe(true);
      store = await harness.open();
    });

    it('persists every kind of record across close and reopen', async () => {
      const node = newKey();
      const topicKey = newKey();
      const domainKey = newKey();
      await store.offerNodeAdvert(nodeAdvert(node, 3));
      await store.offerEngineAdvert(engineAdvert(node, 'kv', 2));
      await store.offerTopicAdvert(topicAdvert(topicKey, node, 4));
      await store.offerDomainAdvert(domainAdvert(domainKey, [node], 5));
      await store.setTransportPrefs(idOf(node), ['quic', 'tls']);
      await store.setReputation(idOf(node), -20);
      await store.adjustReputation(idOf(node), 5);
      await reopen();
      const record = store.node(idOf(node));
      expect(record?.advert?.version).toBe(3);
      expect(record?.transportPrefs).toEqual(['quic', 'tls']);
      expect(record?.reputation).toBe(-15);
      expect(store.engine({ node: idOf(node), name: 'kv' })?.version).toBe(2);
      expect(store.engines(idOf(node))).toHaveLength(1);
      expect(store.topic(topicKey.topicId)?.publisher.node).toBe(node.id);
      expect(store.domain(domainKey.id as never)?.nodes).toEqual([node.id]);
      expect(store.counters().loaded).toBe(5);
      expect(store.counters().loadSkipped).toBe(0);
    });

    it('applies version ordering to engine, topic and domain adverts', async () => {
      const node = newKey();
      const topicKey = newKey();
      const domainKey = newKey();
      expect(await store.offerEngineAdvert(engineAdvert(node, 'kv', 2))).toBe(true);
      expect(await store.offerEngineAdvert(engineAdvert(node, 'kv', 2))).toBe(false);
      expect(await store.offerEngineAdvert(engineAdvert(node, 'kv', 3))).toBe(true);
      expect(await store.offerTopicAdvert(topicAdvert(topicKey, node, 1))).toBe(true);
      expect(await store.offerTopicAdvert(topicAdvert(topicKey, node, 1))).toBe(false);
      expect(await store.offerDomainAdvert(domainAdvert(domainKey, [], 2))).toBe(true);
      await expect(
        store.offerDomainAdvert(domainAdvert(domainKey, [], 1), { rejectStale: true }),
      ).rejects.toBeInstanceOf(StaleAdvertError);
      expect(store.engine({ node: idOf(node), name: 'kv' })?.version).toBe(3);
    });

    it('skips, counts and never trusts corrupt or forged records on disk', async () => {
      const good = newKey();
      const victim = newKey();
      const forger = newKey();
      await store.offerNodeAdvert(nodeAdvert(good, 1));
      await store.stop();
      const genuine = nodeAdvert(victim, 1);
      const forged = { ...genuine, addrs: [{ url: 'tls://6.6.6.6:666', weight: 255 }] };
      await harness.putRaw(`n/${victim.id}`, encodeNodeAdvertForTests(forged));
      // A valid advert of one node filed under another node's key.
      await harness.putRaw(`n/${idOf(newKey())}`, encodeNodeAdvertForTests(nodeAdvert(forger, 1)));
      await harness.putRaw(`n/${forger.id}x`, new Uint8Array([1, 2, 3]));
      await harness.putRaw(`l/${good.id}`, pack([1, 999, 0, null, null]));
      await harness.putRaw('zz/unknown', pack('?'));
      const warnings: string[] = [];
      store = await harness.open({ logger: capturingLogger(warnings) });
      expect(store.node(idOf(victim))).toBeUndefined();
      expect(store.node(idOf(forger))).toBeUndefined();
      expect(store.node(idOf(good))?.advert?.version).toBe(1);
      expect(store.node(idOf(good))?.trust).toBe(TRUST_DEFAULT);
      expect(store.counters().loadSkipped).toBe(5);
      expect(store.counters().loaded).toBe(1);
      expect(warnings).toHaveLength(5);
    });

    it('loads configured adverts in text form, refusing garbage with a typed error', async () => {
      const a = newKey();
      const b = newKey();
      const texts = [formatNodeAdvert(nodeAdvert(a, 1)), formatNodeAdvert(nodeAdvert(b, 2))];
      await expect(store.loadAdverts([texts[0]!, 'nmadvert1.garbage!'])).rejects.toBeInstanceOf(
        MalformedFrameError,
      );
      await expect(store.loadAdverts(['nmadvert1.AAAA'])).rejects.toBeInstanceOf(MalformedFrameError);
      expect(store.node(idOf(a))).toBeUndefined();
      expect(await store.loadAdverts(texts)).toEqual({ stored: [a.id, b.id], unchanged: [] });
      expect(await store.loadAdverts(texts)).toEqual({ stored: [], unchanged: [a.id, b.id] });
      expect(store.node(idOf(b))?.advert?.version).toBe(2);
    });

    it('follows its lifecycle: refuses work when stopped, honours aborted signals, disposes', async () => {
      const key = newKey();
      const controller = new AbortController();
      controller.abort();
      await expect(
        store.offerNodeAdvert(nodeAdvert(key, 1), { signal: controller.signal }),
      ).rejects.toBeInstanceOf(AbortedError);
      await store.stop();
      await store.stop();
      await expect(store.offerNodeAdvert(nodeAdvert(key, 1))).rejects.toBeInstanceOf(NotStartedError);
      await expect(harness.open({ limits: {} }).then((s) => s.stop())).resolves.toBeUndefined();
      {
        await using disposable = await harness.open();
        await disposable.offerNodeAdvert(nodeAdvert(key, 1));
      }
      store = await harness.open();
      expect(store.node(idOf(key))?.advert?.version).toBe(1);
    });

    it('refuses new identities beyond its limit', async () => {
      store = await reopen({ limits: { nodes: 1 } });
      const first = newKey();
      await store.offerNodeAdvert(nodeAdvert(first, 1));
      await expect(store.offerNodeAdvert(nodeAdvert(newKey(), 1))).rejects.toBeInstanceOf(DirectoryFullError);
      expect(await store.offerNodeAdvert(nodeAdvert(first, 2))).toBe(true);
      expect(store.counters().rejected.full).toBe(1);
    });

    it('satisfies the NodeDirectory seam', async () => {
      const key = newKey();
      const directory: NodeDirectory = store;
      expect(await directory.offerNodeAdvert(nodeAdvert(key, 1))).toBe(true);
      directory.recordRtt?.(idOf(key), 10);
      expect(directory.node(idOf(key) as NodeId)?.trust).toBe(TRUST_DEFAULT);
    });
  });
}
