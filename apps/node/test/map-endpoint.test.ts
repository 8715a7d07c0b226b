import { request } from 'node:http';
import { noopLogger } from '@netmachine/core';
import { tls } from '@netmachine/transport-tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricsServer } from '../src/metrics.js';
import { createNode, type NetmachineNode } from '../src/node.js';
import { nodeStatus } from '../src/status.js';

/** A GET with a chosen Host header; resolves with the status and, for a stream, the response to end. */
function get(address: string, path: string, host = address) {
  const [hostname, port] = [
    address.slice(0, address.lastIndexOf(':')),
    address.slice(address.lastIndexOf(':') + 1),
  ];
  return new Promise<{ status: number; close: () => void }>((resolve, reject) => {
    const req = request({ host: hostname, port: Number(port), path, headers: { host } }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, close: () => req.destroy() });
    });
    req.on('error', reject).end();
  });
}

describe('the map endpoint', () => {
  let node: NetmachineNode;
  let metrics: MetricsServer;

  beforeAll(async () => {
    node = await createNode({ config: { listen: ['tls://127.0.0.1:0'] }, transports: [tls()] });
    await node.start();
    metrics = new MetricsServer('127.0.0.1:0', () => nodeStatus(node), noopLogger);
    await metrics.start();
  });

  afterAll(async () => {
    await metrics?.stop();
    await node?.stop();
  });

  it('is read-only, serves its snapshot, and answers loopback names only', async () => {
    const url = `http://${metrics.address}`;
    expect((await fetch(`${url}/map.json`, { method: 'POST' })).status).toBe(405);
    const snapshot = (await (await fetch(`${url}/map.json`)).json()) as { self: { id: string } };
    expect(snapshot.self.id).toBe(node.id);
    // A DNS-rebinding page reaches the port under a foreign Host header.
    expect((await get(metrics.address, '/map.json', 'evil.example:80')).status).toBe(403);
    expect((await get(metrics.address, '/map.json', `localhost:1`)).status).toBe(200);
  });

  it('streams to at most 8 viewers at once and refuses the ninth', async () => {
    const streams = await Promise.all(Array.from({ length: 8 }, () => get(metrics.address, '/map/events')));
    expect(streams.map((s) => s.status)).toEqual(Array(8).fill(200));
    expect((await get(metrics.address, '/map/events')).status).toBe(503);
    for (const s of streams) s.close();
  });
});
