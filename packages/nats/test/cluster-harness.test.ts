import { connect } from '@nats-io/transport-node';
import { describe, expect, it, vi } from 'vitest';
import { NatsCluster } from '../src/testing/index.js';

describe('NatsCluster', { timeout: 60_000 }, () => {
  it('joins three servers by routes: a message published on one reaches subscribers on the others', async () => {
    await using cluster = await NatsCluster.start();
    expect(new Set(cluster.urls).size).toBe(3);
    const [a, b, c] = await Promise.all(cluster.urls.map((url) => connect({ servers: url })));
    const got: string[] = [];
    for (const [label, connection] of [
      ['b', b],
      ['c', c],
    ] as const) {
      connection?.subscribe('hello', {
        callback: (_err, msg) => {
          got.push(`${label}:${msg.string()}`);
        },
      });
      await connection?.flush();
    }
    // Interest crosses the routes asynchronously: publish until both have seen one.
    await vi.waitFor(
      () => {
        a?.publish('hello', 'x');
        expect(new Set(got)).toEqual(new Set(['b:x', 'c:x']));
      },
      { timeout: 20_000, interval: 50 },
    );
    await cluster.server(1).kill();
    expect(await cluster.server(1).routeCount()).toBe(0);
    await cluster.server(1).restart();
    await cluster.whenMeshed();
    expect(await cluster.server(1).routeCount()).toBe(2);
    await Promise.all([a, b, c].map((connection) => connection?.close()));
  });
});
