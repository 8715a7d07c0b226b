import { type EngineMessage, KeyPair, type NodeId, type NodeSender } from '@netmachine/core';
import { Router } from '@netmachine/router';
import { describe, expect, it, vi } from 'vitest';
import { type AttachedEngine, attachEngine, bridgeOptionsFromConfig, NatsBridge } from '../src/index.js';
import { natsServerPerFile } from './helpers.js';

const { server, cleanups } = natsServerPerFile();

/**
 * Joins two routers the way the transport engine does, minus the bytes: through the Router's
 * NodeSender / MessageSink seam, crossing on a macrotask as from a socket.
 */
function link(a: Router, b: Router): void {
  const sender = (to: Router): NodeSender => ({
    canReach: (node: NodeId) => node === to.node,
    send: (message: EngineMessage) => {
      setImmediate(() => to.deliver(message));
    },
  });
  a.setNodeSender(sender(b));
  b.setNodeSender(sender(a));
}

function newNode(): { key: KeyPair; router: Router } {
  const key = KeyPair.generate();
  const router = new Router({ node: key.id });
  cleanups.push(() => router.stop());
  return { key, router };
}

async function newBridge(node: { key: KeyPair; router: Router }, trusted: KeyPair): Promise<NatsBridge> {
  // Built the way the node app builds it from the `nats` section of its config.
  const config = { servers: [server().url], engines: { svc: [trusted.id] }, heartbeatMs: 100 };
  const bridge = new NatsBridge({
    ...bridgeOptionsFromConfig(config, { router: node.router, keyPair: node.key }),
    missedHeartbeats: 20,
  });
  cleanups.push(() => bridge.stop());
  await bridge.start();
  await bridge.whenConnected();
  return bridge;
}

async function attachSvc(node: NodeId, key: KeyPair): Promise<AttachedEngine> {
  const engine = await attachEngine({
    servers: [server().url],
    node,
    name: 'svc',
    key,
    heartbeatMs: 100,
    handler: async (msg, ctx) => {
      if (msg.body === 'ask-remote') {
        // `adder` lives on the asker's node, which is not the node this engine is attached to.
        const answer = await ctx.request({ node: msg.src.node, name: 'adder' }, { a: 1, b: 2 });
        ctx.reply(msg, { remote: answer.body });
        return;
      }
      ctx.reply(msg, { echo: msg.body });
    },
  });
  cleanups.push(() => engine.stop());
  return engine;
}

describe('an attached engine on a node among nodes', () => {
  it('is addressed by other nodes like any engine of its node, and reaches them', async () => {
    const a = newNode();
    const b = newNode();
    link(a.router, b.router);
    const svcKey = KeyPair.generate();
    await newBridge(a, svcKey);
    await attachSvc(a.router.node, svcKey);
    b.router.spawn('adder', (msg, ctx) => {
      const { a: x, b: y } = msg.body as { a: number; b: number };
      ctx.reply(msg, { sum: x + y });
    });

    const remoteClient = b.router.client('remote-client');
    const echo = await remoteClient.request({ node: a.router.node, name: 'svc' }, 'hello');
    expect(echo.body).toEqual({ echo: 'hello' });
    expect(echo.src).toEqual({ node: a.router.node, name: 'svc' });

    const viaRemote = await remoteClient.request({ node: a.router.node, name: 'svc' }, 'ask-remote');
    expect(viaRemote.body).toEqual({ remote: { sum: 3 } });
  });

  it('re-attaches its processes when the bridge restarts', async () => {
    const a = newNode();
    const svcKey = KeyPair.generate();
    const first = await newBridge(a, svcKey);
    const engine = await attachSvc(a.router.node, svcKey);
    const client = a.router.client('tester');
    expect((await client.request('svc', 1)).body).toEqual({ echo: 1 });

    await first.stop();
    expect(a.router.engine('svc')).toBeUndefined();
    await expect
      .poll(() => engine.attached, { message: 'the process to notice the node is gone' })
      .toBe(false);

    const second = await newBridge(a, svcKey);
    // Retried: requests fail until the engine has re-attached.
    const again = await vi.waitFor(() => client.request('svc', 2, { timeoutMs: 1000 }), {
      timeout: 20_000,
      interval: 50,
    });
    expect(again.body).toEqual({ echo: 2 });
    expect(second.counters().attaches).toBe(1);
    expect(second.session).not.toBe(first.session);
  });

  it('keeps every process of a name reachable across a bridge restart', async () => {
    const a = newNode();
    const svcKey = KeyPair.generate();
    const first = await newBridge(a, svcKey);
    await attachSvc(a.router.node, svcKey);
    await attachSvc(a.router.node, svcKey);
    await expect.poll(() => first.status().engines.svc, { message: 'both processes attached' }).toBe(2);

    await first.stop();
    const second = await newBridge(a, svcKey);
    // As soon as one process is back, the name is reachable, and messages may reach either process:
    // the one that has not re-announced yet follows the newer session and answers all the same.
    await expect
      .poll(() => second.status().engines.svc !== undefined, { message: 'the first re-attach' })
      .toBe(true);
    const client = a.router.client('tester');
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => client.request('svc', i, { timeoutMs: 10_000 })),
    );
    expect(replies.map((r) => r.body)).toEqual(Array.from({ length: 20 }, (_, i) => ({ echo: i })));
    await expect.poll(() => second.status().engines.svc, { message: 'both processes re-attached' }).toBe(2);
  });
});
