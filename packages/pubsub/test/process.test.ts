import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { formatNodeAdvert, KeyPair, type TopicId } from '@netmachine/core';
import { afterEach, describe, expect, it } from 'vitest';
import { startTlsNode, type TlsNode } from './fixtures/tls-node.js';
import { range } from './network.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const script = fileURLToPath(new URL('./fixtures/subscriber-process.ts', import.meta.url));

interface ChildSubscriber {
  readonly process: ChildProcess;
  readonly events: unknown[];
  readonly gaps: [number, number][];
  subscriptions: number;
}

const children: ChildProcess[] = [];
const nodes: TlsNode[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

function startChild(seed: Uint8Array, publisher: TlsNode, topic: TopicId): ChildSubscriber {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@netmachine/source',
      '--import',
      'tsx',
      script,
      Buffer.from(seed).toString('hex'),
      formatNodeAdvert(publisher.advert),
      topic,
    ],
    { cwd: packageDir, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  const state: ChildSubscriber = { process: child, events: [], gaps: [], subscriptions: 0 };
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const value = JSON.parse(line) as { event?: unknown; gap?: [number, number]; subscribed?: boolean };
    if ('event' in value) state.events.push(value.event);
    if (value.gap !== undefined) state.gaps.push(value.gap);
    if (value.subscribed) state.subscriptions++;
  });
  return state;
}

async function tlsNode(): Promise<TlsNode> {
  const node = await startTlsNode();
  nodes.push(node);
  return node;
}

describe('pub/sub between processes over TLS', () => {
  it('delivers in order to subscribers in this and another process; a killed subscriber comes back with its gap', async () => {
    const pub = await tlsNode();
    const local = [await tlsNode(), await tlsNode()];
    const { topic } = pub.pubsub.createTopic({ publisher: 'ticker' });
    const received: unknown[][] = local.map(() => []);
    for (const sub of local) await sub.know(pub.advert);
    local.forEach((sub, i) => {
      sub.router
        .client('reader', (m) => {
          received[i]?.push(m.body);
        })
        .subscribe(topic);
    });
    for (const sub of local) await sub.transport.connect(pub.node, { permanent: true });
    const seed = KeyPair.generate().exportSeed();
    let remote = startChild(seed, pub, topic);
    await Promise.all(local.map((sub) => sub.pubsub.whenSubscribed(topic, { timeoutMs: 20_000 })));
    await expect
      .poll(() => remote.subscriptions, { message: 'the child process subscribed', timeout: 30_000 })
      .toBe(1);
    expect(pub.pubsub.subscriberNodes(topic)).toHaveLength(3);

    const ticker = pub.router.client('ticker');
    for (let i = 1; i <= 500; i++) ticker.publish(topic, i);
    await expect
      .poll(() => remote.events.length === 500 && received.every((r) => r.length === 500), {
        message: 'events',
        timeout: 30_000,
      })
      .toBe(true);
    expect(remote.events).toEqual(range(1, 500));
    for (const r of received) expect(r).toEqual(range(1, 500));

    // The child dies without a word; the publisher notices the connection drop.
    remote.process.kill('SIGKILL');
    await once(remote.process, 'exit');
    await expect
      .poll(() => pub.pubsub.subscriberNodes(topic).length, {
        message: 'the publisher drops the dead node',
        timeout: 30_000,
      })
      .toBe(2);
    for (let i = 501; i <= 510; i++) ticker.publish(topic, i);

    remote = startChild(seed, pub, topic); // same identity, fresh memory
    await expect
      .poll(() => remote.subscriptions, { message: 'the restarted child re-subscribed', timeout: 30_000 })
      .toBe(1);
    expect(remote.gaps).toEqual([[501, 510]]);
    for (let i = 511; i <= 520; i++) ticker.publish(topic, i);
    await expect
      .poll(() => remote.events.length === 10 && received.every((r) => r.length === 520), {
        message: 'after',
        timeout: 30_000,
      })
      .toBe(true);
    expect(remote.events).toEqual(range(511, 520));
    for (const r of received) expect(r).toEqual(range(1, 520));
    expect(pub.pubsub.counters().dropped['queue-overflow']).toBe(0);
  }, 120_000); // two child processes start through tsx: slow on a loaded machine
});
