import { ConnectionClosedError, KeyPair, noopLogger } from '@netmachine/core';
import {
  ConnectionProbe,
  FaultController,
  faulty,
  runTransportCompliance,
} from '@netmachine/transport/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryNetwork, memory } from '../src/index.js';
import { introduce, message, startNode, type TestNode } from './helpers.js';

// With every knob at zero the wrapper must be invisible.
runTransportCompliance('faulty(memory) without faults', async () => {
  const network = new MemoryNetwork();
  const [a, b] = [KeyPair.generate(), KeyPair.generate()];
  return {
    listener: { transport: faulty(memory({ network }))({ keyPair: a, logger: noopLogger }), keyPair: a },
    dialer: { transport: faulty(memory({ network }))({ keyPair: b, logger: noopLogger }), keyPair: b },
    listenAddress: 'memory://0',
  };
});

/** A dialer whose writes pass through `faults`, and the plain listener end. */
async function faultyPair(faults: FaultController) {
  const network = new MemoryNetwork();
  const [a, b] = [KeyPair.generate(), KeyPair.generate()];
  const listener = memory({ network })({ keyPair: a, logger: noopLogger });
  const dialer = faulty(memory({ network }), faults)({ keyPair: b, logger: noopLogger });
  const inbound: ConnectionProbe[] = [];
  await listener.listen('memory://f', (c) => inbound.push(new ConnectionProbe(c)));
  const client = new ConnectionProbe(await dialer.dial('memory://f', a.id));
  await expect.poll(() => inbound.length, { message: 'inbound' }).toBe(1);
  return { client, server: inbound[0]!, close: () => Promise.all([listener.close(), dialer.close()]) };
}

/** A random source that replays `values`, then returns 1 (no fault). */
function script(...values: number[]): () => number {
  return () => values.shift() ?? 1;
}

describe('faulty transport wrapper', () => {
  it('drops, duplicates and reorders whole writes', async () => {
    // Rolls per write, in order: drop, reorder (when nothing is held), duplicate.
    const faults = new FaultController(
      { drop: 0.5, duplicate: 0.5, reorder: 0.5 },
      script(1, 1, 1, /* w1 passes */ 0 /* w2 dropped */, 1, 0 /* w3 held */, 1, 0 /* w4 duplicated */),
    );
    const { client, server, close } = await faultyPair(faults);
    for (const byte of [1, 2, 3, 4]) client.connection.write(Buffer.from([byte]));
    await server.until(() => server.received === 4, 'four bytes');
    expect([...server.bytes()]).toEqual([1, 4, 4, 3]);
    expect(faults.counts).toMatchObject({ dropped: 1, reordered: 1, duplicated: 1 });
    await close();
  });

  it('delays writes in order', async () => {
    const faults = new FaultController({ delayMs: 30 });
    const { client, server, close } = await faultyPair(faults);
    for (let i = 0; i < 100; i++) client.connection.write(Buffer.from([i]));
    await server.until(() => server.received === 100, 'all bytes');
    expect([...server.bytes()]).toEqual([...Array(100).keys()]);
    expect(faults.counts.delayed).toBe(100);
    await close();
  });

  it('black-holes both directions without closing, and resets on demand', async () => {
    const faults = new FaultController({ blackhole: true });
    const { client, server, close } = await faultyPair(faults);
    client.connection.write(Buffer.from('lost'));
    server.connection.write(Buffer.from('lost too'));
    await expect.poll(() => faults.counts.blackholed, { message: 'both swallowed' }).toBe(2);
    expect(client.closed || server.closed).toBe(false);
    faults.knobs.blackhole = false;
    client.connection.write(Buffer.from('ok'));
    await server.until(() => server.received === 2, 'after the black hole');
    faults.resetAll();
    await server.until(() => server.closed, 'reset');
    expect(server.closeError).toBeInstanceOf(ConnectionClosedError);
    expect(faults.connections).toBe(0);
    await close();
  });
});

describe('TransportEngine under faults', () => {
  let nodes: TestNode[] = [];
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.engine.stop()));
    nodes = [];
  });

  it('notices a black-holed peer by its pings and reconnects a permanent link afterwards', async () => {
    const network = new MemoryNetwork();
    const faults = new FaultController();
    const limits = { pingIntervalMs: 20, pingTimeoutMs: 300, handshakeTimeoutMs: 300 };
    const a = await startNode('a', {
      network,
      limits,
      engine: { transports: [faulty(memory({ network }), faults)] },
    });
    const b = await startNode('b', { network, limits });
    nodes.push(a, b);
    introduce(a, b);
    introduce(b, a);
    await a.engine.connect(b.id, { permanent: true });
    const down = a.engine.events.once('peer:disconnected', (e) => e.node === b.id);
    faults.knobs.blackhole = true;
    expect((await down).error).toBeInstanceOf(ConnectionClosedError);
    await expect
      .poll(() => a.engine.counters().connectFailures, { message: 'a failed reconnect while black-holed' })
      .toBeGreaterThan(0);
    const up = a.engine.events.once('peer:connected', (e) => e.node === b.id);
    faults.knobs.blackhole = false;
    await up;
    // Delivery is at most once: on a loaded machine the fresh link may itself miss a ping deadline
    // and drop what it carried, so keep offering until one message gets through.
    await vi.waitFor(
      () => {
        a.engine.send(message(a, b, 'after'));
        expect(
          b.sink.delivered.some((m) => m.body === 'after'),
          'delivery after recovery',
        ).toBe(true);
      },
      { timeout: 20_000, interval: 200 },
    );
  });

  it('reconnects a permanent link after a reset and keeps delivering', async () => {
    const network = new MemoryNetwork();
    const faults = new FaultController();
    const a = await startNode('a', {
      network,
      engine: { transports: [faulty(memory({ network }), faults)] },
    });
    const b = await startNode('b', { network });
    nodes.push(a, b);
    introduce(a, b);
    introduce(b, a);
    await a.engine.connect(b.id, { permanent: true });
    const up = a.engine.events.once('peer:connected', (e) => e.node === b.id);
    faults.resetAll();
    await up;
    for (let i = 0; i < 10; i++) a.engine.send(message(a, b, i));
    await expect.poll(() => b.sink.delivered.length, { message: 'deliveries' }).toBe(10);
    expect(b.sink.delivered.map((m) => m.body)).toEqual([...Array(10).keys()]);
  });
});
