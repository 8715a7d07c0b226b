import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { NodeId } from '@netmachine/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pinFreePorts } from '../src/free-ports.js';
import { createNode, type NetmachineNode } from '../src/node.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/node-process.ts', import.meta.url));

interface Child {
  process: ChildProcess;
  id: NodeId;
  advert: string;
  exited: Promise<number | null>;
}

function startChild(spec: object): Promise<Child> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=@netmachine/source', '--import', 'tsx', FIXTURE], {
      env: { ...process.env, NM_TEST_NODE: JSON.stringify(spec) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    let out = '';
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{"ready"'));
      if (line) {
        const ready = JSON.parse(line) as { id: NodeId; advert: string };
        resolve({ process: child, id: ready.id, advert: ready.advert, exited });
      }
    });
    exited.then((code) => reject(new Error(`child exited ${code} before ready: ${err}`)));
  });
}

const children: Child[] = [];
const nodes: NetmachineNode[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.process.exitCode === null) child.process.kill('SIGKILL');
    await child.exited;
  }
  for (const node of nodes.splice(0)) await node.stop();
});

async function localNode(scheme: 'tls' | 'quic'): Promise<NetmachineNode> {
  const node = await createNode({
    config: { listen: [`${scheme}://127.0.0.1:0`], transports: [scheme], metrics: false },
  });
  await node.start();
  nodes.push(node);
  return node;
}

for (const scheme of ['tls', 'quic'] as const) {
  describe(`two nodes in two processes over ${scheme}`, { timeout: 180_000 }, () => {
    it('exchange unicast and request/response between engines', async () => {
      const a = await localNode(scheme);
      const child = await startChild({
        seed: randomBytes(32).toString('hex'),
        listen: [`${scheme}://127.0.0.1:0`],
        transports: [scheme],
        peers: [a.advertText],
      });
      children.push(child);
      await a.addPeer(child.advert, { permanent: true });
      const client = a.client('tester');
      const echo = { node: child.id, name: 'echo' };
      const sink = { node: child.id, name: 'sink' };
      const reply = await client.request(echo, { hello: 'world' }, { timeoutMs: 30_000 });
      expect(reply.body).toEqual({ hello: 'world' });
      expect(reply.src.node).toBe(child.id);
      for (let i = 0; i < 1000; i++) client.send(sink, i);
      const got = await vi.waitFor(
        async () => {
          const report = await client.request(sink, null, { protocol: 'sink/report@1', timeoutMs: 30_000 });
          const body = report.body as number[];
          expect(body.length, 'all 1000 messages').toBeGreaterThanOrEqual(1000);
          return body;
        },
        { timeout: 60_000, interval: 20 },
      );
      expect(got).toEqual([...Array(1000).keys()]);
      // And the other way: the child's engine asks our echo engine.
      a.spawn('echo', (m, ctx) => ctx.reply(m, { back: m.body }));
      const relayed = await client.request(
        { node: child.id, name: 'relay' },
        { to: { node: a.id, name: 'echo' }, body: 'x' },
        { timeoutMs: 30_000 },
      );
      expect(relayed.body).toEqual({ ok: true, body: { back: 'x' } });
    });
  });
}

describe('a permanent connection across a killed and restarted peer process', { timeout: 240_000 }, () => {
  it('comes back, and delivers the messages queued during the outage exactly once', async () => {
    const a = await localNode('tls');
    // A fixed port, outside the ephemeral range: no other socket is given it while the child is down.
    const [listen] = await pinFreePorts(['tls://127.0.0.1:0']);
    const seed = randomBytes(32).toString('hex');
    const spec = { seed, listen: [listen], transports: ['tls'], peers: [a.advertText] };
    const first = await startChild(spec);
    children.push(first);
    await a.addPeer(first.advert, { permanent: true });
    const client = a.client('tester');
    const sink = { node: first.id, name: 'sink' };
    await client.request({ node: first.id, name: 'echo' }, 'up', { timeoutMs: 30_000 });

    const down = a.transport.events.once('peer:disconnected', (e) => e.node === first.id);
    first.process.kill('SIGKILL');
    await first.exited;
    await down;
    // Sent while the peer is down: queued on our side until it expires (here: a minute).
    for (let i = 0; i < 200; i++) client.send(sink, i, { ttlMs: 60_000 });

    const second = await startChild(spec);
    children.push(second);
    expect(second.id).toBe(first.id);
    await expect
      .poll(() => a.transport.connectedNodes().includes(second.id), {
        message: 'the permanent link to come back',
      })
      .toBe(true);
    await vi.waitFor(
      async () => {
        const report = await client.request(sink, null, { protocol: 'sink/report@1', timeoutMs: 30_000 });
        expect((report.body as number[]).length, 'the queued messages').toBeGreaterThanOrEqual(200);
      },
      { timeout: 60_000, interval: 20 },
    );
    // The fence: this report request leaves after every queued message on the same link, and the link
    // delivers in order, so a message sent twice would be in the sink before the request is handled.
    const final = await client.request(sink, null, { protocol: 'sink/report@1', timeoutMs: 30_000 });
    expect(final.body as number[]).toEqual([...Array(200).keys()]);
  });
});
