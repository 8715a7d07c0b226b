import {
  type EngineAddress,
  type EngineContext,
  type EngineMessage,
  KeyPair,
  type TopicId,
} from '@netmachine/core';
import { createNode } from '@netmachine/node';
import { tls } from '@netmachine/transport-tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type AttachedEngine, attachEngine, type NatsBridge, nats } from '../src/index.js';
import { NatsCluster } from '../src/testing/index.js';
import { type EngineProcess, spawnEngineProcess } from './helpers.js';

// Three servers; the node's bridge starts on server 0, the `worker` pool on servers 1 and 2, the
// engine `other` on server 2 and the engine `listener` on server 0. Each client lists every server,
// its own first, so it fails over to a survivor.

interface Reply {
  value?: unknown;
  pid?: number;
}

const MAILBOX = 256;
const WAIT = { timeout: 20_000, interval: 20 };

let cluster: NatsCluster;
const cleanups: (() => Promise<unknown>)[] = [];
const workerKey = KeyPair.generate();
const otherKey = KeyPair.generate();
const listenerKey = KeyPair.generate();
let node: Awaited<ReturnType<typeof startNode>>;
let remote: Awaited<ReturnType<typeof createNode>>;
let bridge: NatsBridge;
let workers: EngineProcess[];
const collected: EngineMessage[] = [];
const heard: Record<string, unknown[]> = { other: [], listener: [] };
const attachedEngines = new Map<string, AttachedEngine>();

function startNode() {
  return createNode({
    keyPair: KeyPair.generate(),
    transports: [tls()],
    listen: ['tls://127.0.0.1:0'],
    services: {
      nats: nats({
        servers: cluster.urlsFrom(0),
        natsOptions: { noRandomize: true },
        trustedKeys: { worker: [workerKey.id], other: [otherKey.id], listener: [listenerKey.id] },
        heartbeatMs: 200,
        // Generous for a loaded machine: a busy process must not look dead.
        missedHeartbeats: 15,
        minReconnectDelayMs: 20,
        maxReconnectDelayMs: 200,
        mailboxSize: MAILBOX,
      }),
    },
  });
}

/** An engine attached from this process, recording topic events and answering requests. */
async function attachHere(name: string, key: KeyPair, server: number): Promise<AttachedEngine> {
  const engine = await attachEngine({
    servers: cluster.urlsFrom(server),
    natsOptions: { noRandomize: true },
    node: node.id,
    name,
    key,
    heartbeatMs: 200,
    minReconnectDelayMs: 20,
    maxReconnectDelayMs: 200,
    handler: (msg: EngineMessage, ctx: EngineContext) => {
      if ('topic' in msg.dst) heard[name]?.push(msg.body);
      else ctx.reply(msg, { value: msg.body, pid: process.pid });
    },
  });
  cleanups.push(() => engine.stop());
  attachedEngines.set(name, engine);
  return engine;
}

/** The port of the server an attachment announced itself from (`host:port`). */
function serverOf(name: string, predicate: (port: number) => boolean = () => true): number[] {
  return bridge
    .status()
    .attachments.filter((a) => a.name === name)
    .map((a) => Number(a.server.split(':').at(-1)))
    .filter(predicate);
}

/** A request retried on timeout: the policy a caller uses across a server's death. */
async function requestWithRetry(
  client: EngineContext,
  dst: EngineAddress | string,
  body: unknown,
  retries: { count: number },
): Promise<EngineMessage<Reply>> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await client.request<Reply>(dst, body, { timeoutMs: 500 });
    } catch (error) {
      if (attempt >= 40) throw error;
      retries.count++;
    }
  }
}

/** Asks a pool's processes for their tick counts once every one answered a request sent after the ticks. */
async function ticksReceived(client: EngineContext): Promise<number> {
  const answered = new Set<number>();
  // A fence: with per-connection ordering, a process that answers this has received every tick sent before.
  await vi.waitFor(async () => {
    const reply = await client.request<Reply>('worker', { op: 'echo', value: 'fence' }, { timeoutMs: 1000 });
    answered.add(reply.body.pid as number);
    expect(answered.size).toBe(workers.length);
  }, WAIT);
  const counts = await Promise.all(
    workers.map(async (worker) => {
      const before = worker.reports.length;
      worker.child.kill('SIGUSR2');
      await vi.waitFor(
        () => expect(worker.reports.slice(before).some((r) => r.event === 'ticks')).toBe(true),
        WAIT,
      );
      return worker.reports.slice(before).find((r) => r.event === 'ticks')?.value as number;
    }),
  );
  return counts.reduce((sum, count) => sum + count, 0);
}

/**
 * Sequential requests with retry from `lanes` concurrent callers, each preceded by a fire-and-forget
 * tick; `onProgress` runs once `at` requests have completed (the fault goes there).
 */
async function underLoad(
  client: EngineContext,
  options: { lanes: number; perLane: number; at: number; onProgress: () => Promise<void> },
) {
  const retries = { count: 0 };
  let done = 0;
  let ticks = 0;
  let fault: Promise<void> | undefined;
  const pids = new Set<number>();
  let maxQueued = 0;
  await Promise.all(
    Array.from({ length: options.lanes }, async (_, lane) => {
      for (let i = 0; i < options.perLane; i++) {
        client.send('worker', { op: 'tick' });
        ticks++;
        const reply = await requestWithRetry(client, 'worker', { op: 'echo', value: [lane, i] }, retries);
        expect(reply.body.value).toEqual([lane, i]);
        pids.add(reply.body.pid as number);
        maxQueued = Math.max(maxQueued, node.router.engine('worker')?.queued ?? 0);
        if (++done === options.at) fault = options.onProgress();
      }
    }),
  );
  await fault;
  return { done, ticks, retries: retries.count, pids, maxQueued };
}

beforeAll(async () => {
  cluster = await NatsCluster.start();
  node = await startNode();
  await node.start();
  bridge = node.services.nats;
  await bridge.whenConnected();
  node.router.client('collector', (msg) => {
    collected.push(msg);
  });
  workers = [1, 2].map((server) =>
    spawnEngineProcess({
      servers: cluster.urlsFrom(server),
      noRandomize: true,
      node: node.id,
      name: 'worker',
      key: workerKey,
      heartbeatMs: 200,
    }),
  );
  for (const worker of workers) cleanups.push(() => worker.kill());
  for (const worker of workers) expect((await worker.outcome).event).toBe('attached');
  await attachHere('other', otherKey, 2);
  await attachHere('listener', listenerKey, 0);
  remote = await createNode({
    keyPair: KeyPair.generate(),
    transports: [tls()],
    listen: ['tls://127.0.0.1:0'],
  });
  await remote.start();
  cleanups.push(() => remote.stop());
  await remote.addPeer(node.advert);
}, 120_000);

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  await node?.stop();
  await cluster?.close();
});

describe('engines spread over a three-server NATS cluster', { timeout: 120_000 }, () => {
  it('serves requests from its node and from another node over TLS, and topic events on every server', async () => {
    await vi.waitFor(
      () => expect(bridge.status().engines).toEqual({ worker: 2, other: 1, listener: 1 }),
      WAIT,
    );
    const [s0, s1, s2] = cluster.servers.map((server) => server.port);
    expect(bridge.status().server).toContain(String(s0));
    expect(serverOf('worker').sort()).toEqual([s1, s2].sort());
    expect(serverOf('other')).toEqual([s2]);
    expect(serverOf('listener')).toEqual([s0]);

    const local = node.router.client('tester');
    const fromRemote = remote.router.client('remote-tester');
    const pids = new Set<number>();
    for (let i = 0; i < 40; i++) {
      const reply = await local.request<Reply>('worker', { op: 'echo', value: i });
      expect(reply.body.value).toBe(i);
      pids.add(reply.body.pid as number);
    }
    expect(pids).toEqual(new Set(workers.map((w) => w.pid)));
    const viaTls = await fromRemote.request<Reply>(
      { node: node.id, name: 'worker' },
      { op: 'echo', value: 'tls' },
    );
    expect(viaTls.body.value).toBe('tls');
    expect(viaTls.src).toEqual({ node: node.id, name: 'worker' });
    const other = await fromRemote.request<Reply>({ node: node.id, name: 'other' }, 'hello');
    expect(other.body.value).toBe('hello');

    // One topic, subscribed by an engine attached on each server (the pool forwards to `collector`).
    const topic: TopicId = KeyPair.generate().topicId;
    node.router.createTopic(topic, local.address);
    await local.request('worker', { op: 'subscribe', topic });
    attachedEngines.get('other')?.subscribe(topic);
    attachedEngines.get('listener')?.subscribe(topic);
    await vi.waitFor(() => expect(node.router.localSubscriberCount(topic)).toBe(3), WAIT);
    local.publish(topic, 'event-1');
    await vi.waitFor(() => {
      expect(heard.other).toEqual(['event-1']);
      expect(heard.listener).toEqual(['event-1']);
      expect(collected.map((m) => m.body)).toContainEqual({ event: 'event-1', pid: expect.any(Number) });
    }, WAIT);
  });

  it("survives the death of a worker's server, then of the bridge's own server", async () => {
    const local = node.router.client('loader');
    const fromRemote = remote.router.client('remote-loader');
    const [s0, s1] = cluster.servers.map((server) => server.port);
    const victim = workers[0] as EngineProcess; // on server 1
    const ticksBefore = await ticksReceived(local);
    const instancesBefore = bridge
      .status()
      .attachments.map((a) => a.instance)
      .sort();
    const detachesBefore = bridge.counters().detaches;
    const linkEvents: string[] = [];
    const unsubscribe = bridge.onEvent((event) => {
      if (event.type === 'nats:disconnected' || event.type === 'nats:reconnected')
        linkEvents.push(event.type);
    });

    // 1. SIGKILL server 1 mid-stream: the worker there reconnects to a survivor.
    const first = await underLoad(local, {
      lanes: 4,
      perLane: 100,
      at: 80,
      onProgress: () => cluster.server(1).kill(),
    });
    await vi.waitFor(() => expect(serverOf('worker', (port) => port === s1)).toEqual([]), WAIT);
    await vi.waitFor(() => expect(bridge.status().engines.worker).toBe(2), WAIT);
    const firstReceived = (await ticksReceived(local)) - ticksBefore;
    const firstLost = first.ticks - firstReceived;
    expect(first.done).toBe(400);
    expect(first.pids).toContain(victim.pid);
    expect(firstLost).toBeGreaterThanOrEqual(0);
    expect(first.maxQueued).toBeLessThanOrEqual(MAILBOX);

    // The pool is whole again: requests reach both processes, the one that moved included.
    const pids = new Set<number>();
    await vi.waitFor(async () => {
      pids.add((await local.request<Reply>('worker', { op: 'echo', value: 0 })).body.pid as number);
      expect(pids).toEqual(new Set(workers.map((w) => w.pid)));
    }, WAIT);

    // The same processes, moved rather than replaced: none was detached, none attached anew.
    expect(
      bridge
        .status()
        .attachments.map((a) => a.instance)
        .sort(),
    ).toEqual(instancesBefore);
    expect(bridge.counters().detaches).toBe(detachesBefore);
    expect(linkEvents).toEqual([]); // the bridge's own server was not touched

    await cluster.server(1).restart();
    await cluster.whenMeshed();

    // 2. SIGKILL the bridge's own server: the node reconnects to a survivor; its engines re-attach.
    const reconnectsBefore = bridge.counters().reconnects;
    const droppedBefore = bridge.counters().dropped;
    const second = await underLoad(local, {
      lanes: 4,
      perLane: 100,
      at: 80,
      onProgress: () => cluster.server(0).kill(),
    });
    await vi.waitFor(() => expect(bridge.status().server).not.toContain(`:${s0}`), WAIT);
    await vi.waitFor(
      () => expect(bridge.status().engines).toEqual({ worker: 2, other: 1, listener: 1 }),
      WAIT,
    );
    await vi.waitFor(() => expect(serverOf('listener', (port) => port === s0)).toEqual([]), WAIT);
    const secondReceived = (await ticksReceived(local)) - ticksBefore - firstReceived;
    const secondLost = second.ticks - secondReceived;
    const dropped = bridge.counters().dropped;
    expect(second.done).toBe(400);
    expect(secondLost).toBeGreaterThanOrEqual(0);
    expect(second.maxQueued).toBeLessThanOrEqual(MAILBOX);
    expect(bridge.counters().reconnects).toBeGreaterThan(reconnectsBefore);
    // The node's view lapsed (disconnected) and returned (reconnected to a survivor).
    expect(linkEvents.slice(0, 2)).toEqual(['nats:disconnected', 'nats:reconnected']);
    unsubscribe();
    expect(bridge.status().pendingRequests).toBe(0);

    // The other node still reaches the pool through this node.
    const viaTls = await fromRemote.request<Reply>(
      { node: node.id, name: 'worker' },
      { op: 'echo', value: 'after' },
    );
    expect(viaTls.body.value).toBe('after');

    // The figures the README quotes.
    console.log(
      JSON.stringify({
        workerServerKilled: {
          requests: first.done,
          retries: first.retries,
          ticks: first.ticks,
          lost: firstLost,
        },
        bridgeServerKilled: {
          requests: second.done,
          retries: second.retries,
          ticks: second.ticks,
          lost: secondLost,
          droppedAtBridge: {
            disconnected: dropped.disconnected - droppedBefore.disconnected,
            expired: dropped.expired - droppedBefore.expired,
          },
        },
      }),
    );
  });
});
