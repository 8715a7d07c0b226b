import {
  type EngineMessage,
  KeyPair,
  type NodeId,
  RequestTimeoutError,
  UnknownDestinationError,
} from '@netmachine/core';
import { Router } from '@netmachine/router';
import { describe, expect, it, vi } from 'vitest';
import { NatsBridge } from '../src/index.js';
import { type EngineProcess, natsServerPerFile, spawnEngineProcess } from './helpers.js';

interface Reply {
  value?: unknown;
  pid?: number;
  answer?: unknown;
  from?: string;
  error?: string;
  ok?: boolean;
}

const { server, cleanups } = natsServerPerFile();

/** A node (router + bridge) trusting `workerKey` for the engine name `worker`. */
async function startNode(workerKey: KeyPair) {
  const nodeKey = KeyPair.generate();
  const router = new Router({ node: nodeKey.id });
  const bridge = new NatsBridge({
    router,
    keyPair: nodeKey,
    servers: [server().url],
    trustedKeys: { worker: [workerKey.id] },
    heartbeatMs: 200,
    // Generous for a loaded machine: a busy test process must not look dead.
    missedHeartbeats: 10,
    minReconnectDelayMs: 50,
    maxReconnectDelayMs: 500,
  });
  await bridge.start();
  cleanups.push(
    () => router.stop(),
    () => bridge.stop(),
  );
  await bridge.whenConnected();
  return { nodeKey, router, bridge };
}

function startWorker(node: NodeId, key: KeyPair): EngineProcess {
  const worker = spawnEngineProcess({ servers: [server().url], node, name: 'worker', key });
  cleanups.push(() => worker.kill());
  return worker;
}

async function attached(worker: EngineProcess): Promise<void> {
  const outcome = await worker.outcome;
  expect(outcome.event).toBe('attached');
}

// Each test starts Node.js child processes, which is slow on a loaded machine.
describe('an engine in another process, attached through a real nats-server', { timeout: 120_000 }, () => {
  it('exchanges messages, requests, replies and topic events with engines on its node', async () => {
    const workerKey = KeyPair.generate();
    const { router, bridge } = await startNode(workerKey);
    const worker = startWorker(router.node, workerKey);
    await attached(worker);
    expect(bridge.status().engines).toEqual({ worker: 1 });

    router.spawn('adder', (msg, ctx) => {
      const { a, b } = msg.body as { a: number; b: number };
      ctx.reply(msg, { sum: a + b });
    });
    const collected: EngineMessage[] = [];
    router.client('collector', (msg) => {
      collected.push(msg);
    });
    const client = router.client('tester');

    // node → process request, and the process's reply
    const echo = await client.request<Reply>('worker', { op: 'echo', value: 42 }, { timeoutMs: 10_000 });
    expect(echo.body).toEqual({ value: 42, pid: worker.pid });
    expect(echo.src).toEqual({ node: router.node, name: 'worker' });

    // process → node request (the process asks `adder` while answering us)
    const ask = await client.request<Reply>('worker', { op: 'ask', dst: 'adder', value: { a: 2, b: 3 } });
    expect(ask.body).toEqual({ answer: { sum: 5 }, from: 'adder', pid: worker.pid });

    // process → node fire-and-forget; it arrives from the engine's address on this node
    await client.request('worker', { op: 'tell', dst: 'collector', value: 'hi' });
    await expect.poll(() => collected.length, { message: 'the told message' }).toBe(1);
    expect(collected[0]?.body).toEqual({ value: 'hi', pid: worker.pid });
    expect(collected[0]?.src).toEqual({ node: router.node, name: 'worker' });

    // a typed error crosses back to the process
    const lost = await client.request<Reply>('worker', { op: 'ask', dst: 'nobody', value: 1 });
    expect(lost.body.error).toBe('ERR_UNKNOWN_DESTINATION');

    // topic events reach the process once it subscribes
    const topic = KeyPair.generate().topicId;
    router.createTopic(topic, client.address);
    await client.request('worker', { op: 'subscribe', topic });
    await expect
      .poll(() => router.localSubscriberCount(topic), { message: 'the proxy subscription' })
      .toBe(1);
    client.publish(topic, 'event-1');
    await expect
      .poll(() => collected.length, { message: 'the topic event forwarded by the process' })
      .toBe(2);
    expect(collected[1]?.body).toEqual({ event: 'event-1', pid: worker.pid });

    expect(bridge.counters().rejected['bad-signature']).toBe(0);
  });

  it('shares load between two processes with the same name, and survives losing one', async () => {
    const workerKey = KeyPair.generate();
    const { router, bridge } = await startNode(workerKey);
    const first = startWorker(router.node, workerKey);
    const second = startWorker(router.node, workerKey);
    await Promise.all([attached(first), attached(second)]);
    await expect.poll(() => bridge.status().engines.worker, { message: 'both processes attached' }).toBe(2);
    const client = router.client('tester');

    const pids = new Set<number>();
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) => client.request<Reply>('worker', { op: 'echo', value: i })),
    );
    for (const reply of replies) pids.add(reply.body.pid as number);
    expect(pids).toEqual(new Set([first.pid, second.pid]));

    await first.kill();
    // The killed process stops heartbeating; the bridge forgets it, the name stays attached.
    await expect
      .poll(() => bridge.status().engines.worker, { message: 'the killed process detached' })
      .toBe(1);
    for (let i = 0; i < 10; i++) {
      const reply = await client.request<Reply>('worker', { op: 'echo', value: i });
      expect(reply.body.pid).toBe(second.pid);
    }
    expect(bridge.counters().detaches).toBe(1);
  });

  it('detaches a name when its last process leaves: requests then fail at once', async () => {
    const workerKey = KeyPair.generate();
    const { router, bridge } = await startNode(workerKey);
    const client = router.client('tester');

    const leaving = startWorker(router.node, workerKey);
    await attached(leaving);
    await client.request('worker', { op: 'echo', value: 1 });
    await leaving.stop();
    expect(leaving.reports.at(-1)?.event).toBe('stopped');
    await expect.poll(() => router.engine('worker'), { message: 'the clean detach' }).toBe(undefined);
    await expect(client.request('worker', { op: 'echo', value: 2 })).rejects.toBeInstanceOf(
      UnknownDestinationError,
    );

    const vanishing = startWorker(router.node, workerKey);
    await attached(vanishing);
    await client.request('worker', { op: 'echo', value: 3 });
    await vanishing.kill();
    await expect.poll(() => router.engine('worker'), { message: 'the heartbeat timeout' }).toBe(undefined);
    await expect(client.request('worker', { op: 'echo', value: 4 })).rejects.toBeInstanceOf(
      UnknownDestinationError,
    );
    expect(bridge.counters().detaches).toBe(2);
  });

  it('recovers when the nats-server restarts mid-test', async () => {
    const workerKey = KeyPair.generate();
    const { router, bridge } = await startNode(workerKey);
    const worker = startWorker(router.node, workerKey);
    await attached(worker);
    router.spawn('adder', (msg, ctx) => {
      const { a, b } = msg.body as { a: number; b: number };
      ctx.reply(msg, { sum: a + b });
    });
    const client = router.client('tester');
    await client.request('worker', { op: 'echo', value: 'before' });

    await server().kill();
    await expect.poll(() => bridge.connected, { message: 'the bridge to see the outage' }).toBe(false);
    // The engine stays attached through the outage; a message for it waits and then expires.
    expect(router.engine('worker')).toBeDefined();
    await expect(
      client.request('worker', { op: 'echo', value: 'during' }, { timeoutMs: 300 }),
    ).rejects.toBeInstanceOf(RequestTimeoutError);
    await expect
      .poll(() => bridge.counters().dropped.expired, {
        message: `the expired message to be counted (drops when the wait began: ${JSON.stringify(bridge.counters().dropped)})`,
      })
      .toBeGreaterThanOrEqual(1);

    await server().restart();
    await bridge.whenConnected();
    // Retried: requests fail until the worker has re-attached through the restarted server.
    const after = await vi.waitFor(
      () => client.request<Reply>('worker', { op: 'echo', value: 'after' }, { timeoutMs: 1000 }),
      { timeout: 20_000, interval: 50 },
    );
    expect(after.body).toEqual({ value: 'after', pid: worker.pid });
    // The process re-attached and can still reach the node on its own.
    const ask = await client.request<Reply>('worker', { op: 'ask', dst: 'adder', value: { a: 1, b: 1 } });
    expect(ask.body).toEqual({ answer: { sum: 2 }, from: 'adder', pid: worker.pid });
    expect(bridge.counters().reconnects).toBeGreaterThanOrEqual(1);
    expect(bridge.status().engines).toEqual({ worker: 1 });
  });

  it('refuses a process whose key the node does not trust, and counts it', async () => {
    const trustedKey = KeyPair.generate();
    const { router, bridge } = await startNode(trustedKey);
    const intruder = startWorker(router.node, KeyPair.generate());
    const outcome = await intruder.outcome;
    expect(outcome).toMatchObject({ event: 'failed', code: 'ERR_ATTACH_REFUSED', reason: 'untrusted-key' });
    expect(bridge.counters().refused['untrusted-key']).toBe(1);
    expect(bridge.counters().attaches).toBe(0);
    expect(router.engine('worker')).toBeUndefined();
  });
});
