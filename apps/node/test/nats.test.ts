import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { KeyPair } from '@netmachine/core';
import { NatsServer } from '@netmachine/nats/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { validateConfig } from '../src/config.js';
import { createNode, defaultServices, type NetmachineNode } from '../src/node.js';

const WORKER = fileURLToPath(new URL('./fixtures/nats-worker.ts', import.meta.url));

describe('an engine in another process, attached to a node through a real nats-server', {
  timeout: 180_000,
}, () => {
  let server: NatsServer;
  let a: NetmachineNode;
  let b: NetmachineNode;
  let worker: ChildProcess;
  const workerSeed = randomBytes(32);
  const workerKey = KeyPair.fromSeed(workerSeed);

  beforeAll(async () => {
    server = await NatsServer.start();
    // The way `netmachine start` builds it: the config names NATS, the default services follow.
    const config = validateConfig({
      listen: ['tls://127.0.0.1:0'],
      transports: ['tls'],
      metrics: false,
      nats: { servers: [server.url], engines: { worker: workerKey.id } },
    });
    a = await createNode({ config, services: await defaultServices(config) });
    b = await createNode({ config: { listen: ['tls://127.0.0.1:0'], transports: ['tls'], metrics: false } });
    await a.start();
    await b.start();
    await a.addPeer(b.advert, { permanent: true });
    await b.addPeer(a.advert);
    b.spawn('echo', (m, ctx) => ctx.reply(m, { echoed: m.body, by: 'b' }));
    worker = spawn(process.execPath, ['--conditions=@netmachine/source', '--import', 'tsx', WORKER], {
      env: {
        ...process.env,
        NM_WORKER: JSON.stringify({ servers: [server.url], node: a.id, seed: workerSeed.toString('hex') }),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // expect.poll only runs inside a test; a hook waits with vi.waitFor.
    await vi.waitFor(() => expect(a.router.engine('worker'), 'the worker to attach').toBeDefined(), {
      timeout: 60_000,
      interval: 20,
    });
  }, 180_000);

  afterAll(async () => {
    worker?.kill('SIGKILL');
    await a?.stop();
    await b?.stop();
    await server?.close();
  });

  it('is reachable from an engine on its own node', async () => {
    const reply = await a.client('local').request({ node: a.id, name: 'worker' }, { op: 'echo', value: 1 });
    expect(reply.body).toMatchObject({ value: 1, pid: worker.pid });
  });

  it('is reachable from an engine on another node, over TLS', async () => {
    const reply = await b.client('remote').request({ node: a.id, name: 'worker' }, { op: 'echo', value: 2 });
    expect(reply.body).toMatchObject({ value: 2, pid: worker.pid });
    expect(reply.src).toEqual({ node: a.id, name: 'worker' });
  });

  it('asks an engine on the other node and gets its answer', async () => {
    const reply = await a
      .client('asker')
      .request({ node: a.id, name: 'worker' }, { op: 'ask', dst: { node: b.id, name: 'echo' }, value: 'hi' });
    expect(reply.body).toEqual({ answer: { echoed: 'hi', by: 'b' }, from: `echo@${b.id}` });
  });
});
