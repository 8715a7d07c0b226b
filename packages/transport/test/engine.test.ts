import {
  type EngineMessage,
  MessageExpiredError,
  PeerDeniedError,
  QueueFullError,
  TRUST_BANNED,
} from '@netmachine/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryNetwork, NoAddressError, type TransportEvent } from '../src/index.js';
import { introduce, message, startNode, type TestNode, type TestNodeOptions } from './helpers.js';

let nodes: TestNode[] = [];
let network: MemoryNetwork;
/** Whether the memory transport sends a dial's first bytes with it, as TLS does. */
let firstBytesEarly = false;

async function node(label: string, options: Partial<TestNodeOptions> = {}): Promise<TestNode> {
  const memory = { sendsFirstBytesEarly: firstBytesEarly, ...options.memory };
  const n = await startNode(label, { network, ...options, memory });
  nodes.push(n);
  return n;
}

/** Two started nodes that know each other's adverts. */
async function pair(options: Partial<TestNodeOptions> = {}): Promise<[TestNode, TestNode]> {
  network = new MemoryNetwork();
  const [a, b] = [await node('a', options), await node('b', options)];
  introduce(a, b);
  introduce(b, a);
  return [a, b];
}

function recordEvents(n: TestNode): TransportEvent[] {
  const events: TransportEvent[] = [];
  n.engine.events.on('*', (e) => events.push(e));
  return events;
}

afterEach(async () => {
  await Promise.all(nodes.map((n) => n.engine.stop()));
  nodes = [];
});

describe.each([
  ['', false],
  [', first messages sent with the ConnectRequest', true],
])('TransportEngine over the memory transport%s', (_, early) => {
  beforeEach(() => {
    firstBytesEarly = early;
  });
  afterEach(() => {
    firstBytesEarly = false;
  });

  it('connects with a handshake that exchanges adverts and measures RTT', async () => {
    const [a, b] = await pair({ limits: { pingIntervalMs: 20 } });
    b.directory.records.delete(a.id); // b has never seen a's advert: a must send it
    const eventsA = recordEvents(a);
    const eventsB = recordEvents(b);
    await a.engine.connect(b.id);
    expect(a.engine.connectedNodes()).toEqual([b.id]);
    await expect.poll(() => b.engine.connectedNodes().includes(a.id), { message: 'b to see a' }).toBe(true);
    expect(eventsA).toContainEqual(
      expect.objectContaining({ type: 'peer:connected', node: b.id, direction: 'outbound' }),
    );
    expect(eventsB).toContainEqual(
      expect.objectContaining({ type: 'peer:connected', node: a.id, direction: 'inbound' }),
    );
    await expect.poll(() => b.directory.node(a.id)?.advert?.version, { message: 'a advert at b' }).toBe(1);
    expect(a.engine.counters().advertsSent).toBe(1);
    expect(b.engine.counters().advertsSent).toBe(0); // a already held b's current advert
    await expect
      .poll(() => a.directory.rtts.length > 0 && b.directory.rtts.length > 0, { message: 'rtt measurements' })
      .toBe(true);
    expect(a.directory.rtts[0]!.node).toBe(b.id);
    expect(a.engine.rtt(b.id)).toBeGreaterThanOrEqual(0);
  });

  it('delivers unicast both ways with the authenticated source', async () => {
    const [a, b] = await pair();
    a.engine.send(message(a, b, { hello: 'b' }));
    await expect.poll(() => b.sink.delivered.length, { message: 'delivery at b' }).toBe(1);
    const got = b.sink.delivered[0]!;
    expect(got.src).toEqual({ node: a.id, name: 'sender' });
    expect(got.dst).toEqual({ node: b.id, name: 'receiver' });
    expect(got.body).toEqual({ hello: 'b' });
    b.engine.send(message(b, a, 'reply', { replyTo: got.id }));
    await expect.poll(() => a.sink.delivered.length, { message: 'delivery at a' }).toBe(1);
    expect(a.sink.delivered[0]!.replyTo).toBe(got.id);
    // One connection serves both directions.
    expect(a.engine.counters().connections).toBe(1);
    expect(b.engine.counters().connections).toBe(1);
  });

  it('keeps order, and coalesces frames into few writes', async () => {
    const [a, b] = await pair();
    await a.engine.connect(b.id);
    const count = 5000;
    for (let i = 0; i < count; i++) a.engine.send(message(a, b, i));
    await expect.poll(() => b.sink.delivered.length, { message: 'all messages' }).toBe(count);
    expect(b.sink.delivered.map((m) => m.body)).toEqual([...Array(count).keys()]);
    const c = a.engine.counters();
    expect(c.messagesOut).toBe(count);
    expect(c.writes).toBeLessThan(count / 10);
  });

  it('honours backpressure and still delivers everything in order', async () => {
    const [a, b] = await pair({ memory: { highWaterMark: 4096 }, limits: { flushBytes: 8192 } });
    const body = Buffer.alloc(2048, 7);
    const count = 300;
    for (let i = 0; i < count; i++) a.engine.send(message(a, b, { i, body }));
    await expect.poll(() => b.sink.delivered.length, { message: 'all messages' }).toBe(count);
    expect(b.sink.delivered.map((m) => (m.body as { i: number }).i)).toEqual([...Array(count).keys()]);
    expect(a.engine.counters().backpressured).toBeGreaterThan(0);
    expect(a.sink.failed).toEqual([]);
  });

  it('tells a sender when the queue for a node is empty, instead of making it poll', async () => {
    const [a, b] = await pair({ memory: { highWaterMark: 4096 }, limits: { flushBytes: 8192 } });
    await expect(a.engine.whenQueueEmpty(b.id)).resolves.toBeUndefined(); // no link, nothing queued
    const body = Buffer.alloc(2048, 7);
    const count = 300;
    for (let i = 0; i < count; i++) a.engine.send(message(a, b, { i, body }));
    expect(a.engine.queuedTo(b.id)).toBeGreaterThan(0);
    let emptied = false;
    const empty = a.engine.whenQueueEmpty(b.id).then(() => {
      emptied = true;
      return a.engine.queuedTo(b.id);
    });
    await Promise.resolve();
    expect(emptied).toBe(false);
    await expect(empty).resolves.toBe(0);
    await expect.poll(() => b.sink.delivered.length, { message: 'all messages' }).toBe(count);
  });

  it('queues for an unreachable node until expiry, then reports undeliverable', async () => {
    const [a, b] = await pair();
    await b.engine.stop();
    const events = recordEvents(a);
    a.engine.send(message(a, b, 'late', { expiry: Date.now() + 150 }));
    expect(a.engine.counters().queueDepths[b.id]).toBe(1);
    await expect.poll(() => a.sink.failed.length, { message: 'undeliverable' }).toBe(1);
    expect(a.sink.failed[0]!.error).toBeInstanceOf(MessageExpiredError);
    expect(a.engine.counters().dropped.expired).toBe(1);
    expect(a.engine.counters().queuedTotal).toBe(0);
    expect(events.some((e) => e.type === 'peer:connect-failed' && e.node === b.id)).toBe(true);
  });

  it('rejects new messages when a node queue is full', async () => {
    const [a, b] = await pair({ limits: { queueSize: 5 } });
    await b.engine.stop();
    const events = recordEvents(a);
    for (let i = 0; i < 8; i++) a.engine.send(message(a, b, i, { expiry: Date.now() + 60_000 }));
    expect(a.sink.failed.map((f) => f.message.body)).toEqual([5, 6, 7]);
    expect(a.sink.failed.every((f) => f.error instanceof QueueFullError)).toBe(true);
    expect(a.engine.counters().dropped['queue-full']).toBe(3);
    expect(a.engine.counters().queueDepths[b.id]).toBe(5);
    expect(events.filter((e) => e.type === 'queue:full')).toHaveLength(3);
  });

  it('bounds what waits across all nodes together', async () => {
    const [a, b] = await pair({ limits: { queueSize: 10, maxQueuedTotal: 4 } });
    const c = await node('c');
    introduce(a, c);
    await Promise.all([b.engine.stop(), c.engine.stop()]);
    for (let i = 0; i < 3; i++) a.engine.send(message(a, b, i, { expiry: Date.now() + 60_000 }));
    for (let i = 0; i < 3; i++) a.engine.send(message(a, c, i, { expiry: Date.now() + 60_000 }));
    expect(a.sink.failed).toHaveLength(2);
    expect(a.sink.failed[0]!.error).toMatchObject({ name: 'QueueFullError', queue: 'transport (all nodes)' });
    expect(a.engine.counters().queuedTotal).toBe(4);
  });

  it('reports a node without an address at once', async () => {
    network = new MemoryNetwork();
    const a = await node('a');
    const stranger = await node('s');
    a.engine.send(message(a, stranger, 'x'));
    expect(a.engine.canReach(stranger.id)).toBe(false);
    await expect.poll(() => a.sink.failed.length, { message: 'undeliverable' }).toBe(1);
    expect(a.sink.failed[0]!.error).toBeInstanceOf(NoAddressError);
  });

  it('re-establishes a permanent connection and delivers what waited, once', async () => {
    const [a, b] = await pair();
    await a.engine.connect(b.id, { permanent: true });
    a.engine.send(message(a, b, 'before'));
    await expect.poll(() => b.sink.delivered.length, { message: 'first delivery' }).toBe(1);
    const lost = a.engine.events.once('peer:disconnected', (e) => e.node === b.id);
    await b.engine.stop();
    await lost;
    for (let i = 0; i < 50; i++) a.engine.send(message(a, b, i, { expiry: Date.now() + 60_000 }));
    await expect
      .poll(
        () => (a.engine.counters().dropped.expired ?? 0) === 0 && a.engine.counters().connectFailures > 0,
        { message: 'a failed redial' },
      )
      .toBe(true);
    const back = a.engine.events.once('peer:connected', (e) => e.node === b.id);
    await b.restart();
    await back;
    await expect.poll(() => b.sink.delivered.length, { message: 'queued messages' }).toBe(51);
    // Give any duplicate a chance to show up before counting.
    a.engine.send(message(a, b, 'marker'));
    await expect.poll(() => b.sink.delivered.at(-1)?.body, { message: 'marker' }).toBe('marker');
    expect(b.sink.delivered.map((m) => m.body)).toEqual(['before', ...Array(50).keys(), 'marker']);
    expect(a.sink.failed).toEqual([]);
  });

  it('closes an idle ephemeral connection, and reopens on the next send', async () => {
    const [a, b] = await pair({ limits: { idleTimeoutMs: 100 } });
    await a.engine.connect(b.id, { permanent: true });
    const down = a.engine.events.once('peer:disconnected', (e) => e.node === b.id);
    a.engine.send(message(a, b, 'one'));
    await expect.poll(() => b.sink.delivered.length, { message: 'first message' }).toBe(1);
    await a.engine.disconnect(b.id);
    await down;
    expect(a.engine.connectedNodes()).toEqual([]);
    // Ephemeral from now on: opened by a send, closed again when idle.
    a.engine.send(message(a, b, 'two'));
    await expect.poll(() => b.sink.delivered.length, { message: 'second message' }).toBe(2);
    await a.engine.events.once('peer:disconnected', (e) => e.node === b.id);
    await expect.poll(() => a.engine.counters().connections, { message: 'connection gone' }).toBe(0);
    expect(b.sink.delivered.map((m) => m.body)).toEqual(['one', 'two']);
  });

  it('refuses a node with trust 0 in both directions', async () => {
    const [a, b] = await pair();
    a.directory.set(b.id, { trust: TRUST_BANNED });
    a.engine.send(message(a, b, 'to banned'));
    expect(a.sink.failed[0]?.error).toBeInstanceOf(PeerDeniedError);
    expect(a.engine.canReach(b.id)).toBe(false);
    const failed = b.engine.events.once('peer:connect-failed', (e) => e.node === a.id);
    b.engine.send(message(b, a, 'from banned', { expiry: Date.now() + 60_000 }));
    expect((await failed).error).toBeInstanceOf(PeerDeniedError);
    await expect.poll(() => b.sink.failed.length, { message: 'undeliverable at b' }).toBe(1);
    expect(a.sink.delivered).toEqual([]);
    expect(a.engine.connectedNodes()).toEqual([]);
  });

  it('drops what a peer sends once its trust falls to 0, and closes the link', async () => {
    const [a, b] = await pair();
    b.engine.send(message(b, a, 'trusted'));
    await expect.poll(() => a.sink.delivered.length, { message: 'first delivery' }).toBe(1);
    a.directory.set(b.id, { trust: TRUST_BANNED });
    const down = a.engine.events.once('peer:disconnected', (e) => e.node === b.id);
    b.engine.send(message(b, a, 'banned'));
    await down;
    expect(a.sink.delivered.map((m) => m.body)).toEqual(['trusted']);
    expect(a.engine.counters().dropped.denied).toBe(1);
    expect(a.engine.canReach(b.id)).toBe(false);
  });

  it('over a lossy link delivers an ordered subset, never a damaged message', async () => {
    let seed = 42;
    // Deterministic loss: a small linear congruential generator.
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const [a, b] = await pair({
      memory: { lossRate: 0.2, random },
      limits: { handshakeTimeoutMs: 200, pingIntervalMs: 50, pingTimeoutMs: 300 },
    });
    let sent = 0;
    await vi.waitFor(
      () => {
        a.engine.send(message(a, b, { n: sent++, pad: 'x'.repeat(100) }));
        expect(b.sink.delivered.length, 'fifty deliveries through the loss').toBeGreaterThanOrEqual(50);
      },
      { timeout: 20_000, interval: 5 },
    );
    const got = b.sink.delivered.map((m) => (m.body as { n: number; pad: string }).n);
    expect(got).toEqual([...got].sort((x, y) => x - y));
    expect(new Set(got).size).toBe(got.length);
    expect(b.sink.delivered.every((m) => (m.body as { pad: string }).pad.length === 100)).toBe(true);
    expect(got.length).toBeLessThan(sent);
  });

  it('settles a simultaneous dial on one connection both sides agree on', async () => {
    const [a, b] = await pair();
    await Promise.all([a.engine.connect(b.id), b.engine.connect(a.id)]);
    await expect
      .poll(() => a.engine.counters().connections === 1 && b.engine.counters().connections === 1, {
        message: 'one connection each',
      })
      .toBe(true);
    a.engine.send(message(a, b, 'ab'));
    b.engine.send(message(b, a, 'ba'));
    await expect
      .poll(() => a.sink.delivered.length === 1 && b.sink.delivered.length === 1, {
        message: 'both deliveries',
      })
      .toBe(true);
    expect(a.engine.connectedNodes()).toEqual([b.id]);
    expect(b.engine.connectedNodes()).toEqual([a.id]);
  });

  it('loses nothing while a simultaneous dial is settled', async () => {
    let duplicates = 0;
    for (let round = 0; round < 5; round++) {
      const [a, b] = await pair();
      const count = 300;
      void a.engine.connect(b.id, { permanent: true });
      void b.engine.connect(a.id, { permanent: true });
      for (let i = 0; i < count; i++) {
        a.engine.send(message(a, b, i));
        b.engine.send(message(b, a, i));
        if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await expect
        .poll(() => a.sink.delivered.length >= count && b.sink.delivered.length >= count, {
          message: 'all messages',
        })
        .toBe(true);
      expect(new Set(b.sink.delivered.map((m) => m.body)).size).toBe(count);
      expect(new Set(a.sink.delivered.map((m) => m.body)).size).toBe(count);
      expect([a.sink.failed, b.sink.failed]).toEqual([[], []]);
      duplicates += a.engine.counters().duplicateConnections + b.engine.counters().duplicateConnections;
      await Promise.all([a.engine.stop(), b.engine.stop()]);
    }
    // The rounds did race: connections were settled as duplicates.
    expect(duplicates).toBeGreaterThan(0);
  });

  it('signs and verifies every message in strict mode', async () => {
    const [a, b] = await pair({ engine: { strict: true } });
    a.engine.send(message(a, b, 'signed'));
    await expect.poll(() => b.sink.delivered.length, { message: 'delivery' }).toBe(1);
    expect(b.sink.delivered[0]!.sig).toBeInstanceOf(Uint8Array);
    expect(b.engine.counters().dropped['bad-signature']).toBe(0);
  });

  it.each([
    ['on worker threads', 2, 4096],
    ['on worker threads, stopping reading at a small bound', 2, 8],
    ['on the event loop', 0, 4096],
  ])('in strict mode verifies %s and delivers in order', async (_, verifyThreads, maxVerifyingPerLink) => {
    const [a, b] = await pair({ engine: { strict: true, verifyThreads }, limits: { maxVerifyingPerLink } });
    const count = 300;
    for (let i = 0; i < count; i++) a.engine.send(message(a, b, `m${i}`));
    await expect.poll(() => b.sink.delivered.length, { message: 'every message' }).toBe(count);
    expect(b.sink.delivered.map((m) => m.body)).toEqual(Array.from({ length: count }, (_, i) => `m${i}`));
    expect(b.engine.counters().dropped['bad-signature']).toBe(0);
  });

  it("refuses to send another node's message over a link, signed or not (relays seal those)", async () => {
    const [a, b] = await pair();
    const c = await node('c');
    introduce(a, b);
    const { signMessage } = await import('@netmachine/core');
    // c's message to b, signed by c, handed to a: a link carries only a's own messages.
    const original: EngineMessage = signMessage(c.key, {
      id: 7,
      src: { node: c.id, name: 'origin' },
      dst: { node: b.id, name: 'receiver' },
      protocol: 'test@1',
      body: 'via a',
    });
    a.engine.send(original);
    a.engine.send({ ...original, sig: undefined, id: 8 });
    await expect.poll(() => a.sink.failed.length, { message: 'both refused at the sender' }).toBe(2);
    expect(a.sink.failed.map((f) => f.error.name)).toEqual(['SourceMismatchError', 'SourceMismatchError']);
    // A message of a's own still goes: the link was not harmed.
    a.engine.send(message(a, b, 'own'));
    await expect.poll(() => b.sink.delivered.length, { message: 'own message' }).toBe(1);
    expect(b.sink.delivered.map((m) => m.body)).toEqual(['own']);
  });
});

describe('TransportEngine: first messages sent with the ConnectRequest', () => {
  beforeEach(() => {
    firstBytesEarly = true;
  });
  afterEach(() => {
    firstBytesEarly = false;
  });

  it('delivers the first message before the dialer has read the ConnectReply', async () => {
    const [a, b] = await pair();
    let deliveredAtConnect = -1;
    a.engine.events.on('peer:connected', () => {
      deliveredAtConnect = b.sink.delivered.length;
    });
    a.engine.send(message(a, b, 'first'));
    a.engine.send(message(a, b, 'second'));
    await expect
      .poll(() => b.sink.delivered.map((m) => m.body), { message: 'deliveries' })
      .toEqual(['first', 'second']);
    // The dialer's connected event may still be on its way once the listener has both.
    await expect.poll(() => deliveredAtConnect, { message: 'the dialer connected' }).not.toBe(-1);
    // Both left with the ConnectRequest: the listener had them before its reply reached the dialer.
    expect(deliveredAtConnect).toBe(2);
    expect(a.engine.counters().messagesOut).toBe(2);
    a.engine.send(message(a, b, 'third'));
    await expect.poll(() => b.sink.delivered.length, { message: 'third delivery' }).toBe(3);
    expect(b.sink.delivered.map((m) => m.body)).toEqual(['first', 'second', 'third']);
  });

  it('gives the dialer its RTT from the handshake once connected, with no ping', async () => {
    const [a, b] = await pair({ limits: { pingIntervalMs: 60_000 } });
    await a.engine.connect(b.id);
    expect(a.engine.rtt(b.id)).toBeGreaterThanOrEqual(0);
  });

  it('sends its advert ahead of the first messages to a listener that lacks it, and only then', async () => {
    const [a, b] = await pair();
    b.directory.records.delete(a.id);
    const advertAtDelivery: Array<number | undefined> = [];
    const deliver = b.sink.deliver.bind(b.sink);
    b.sink.deliver = (m) => {
      advertAtDelivery.push(b.directory.node(a.id)?.advert?.version);
      return deliver(m);
    };
    a.engine.send(message(a, b, 'first'));
    await expect.poll(() => b.sink.delivered.length, { message: 'first delivery' }).toBe(1);
    expect(advertAtDelivery).toEqual([1]);
    expect(a.engine.counters().advertsSent).toBe(1);
    await a.engine.disconnect(b.id);
    await expect.poll(() => a.engine.connectedNodes(), { message: 'disconnected' }).toEqual([]);
    a.engine.send(message(a, b, 'second'));
    await expect.poll(() => b.sink.delivered.length, { message: 'second delivery' }).toBe(2);
    // b held it by then: not sent again.
    expect(a.engine.counters().advertsSent).toBe(1);
    expect(b.engine.counters().advertsReceived).toBe(1);
  });

  it('keeps messages the listener refused unread in the queue, and delivers them once it accepts', async () => {
    const [a, b] = await pair({ limits: { maxConnections: 1 } });
    const c = await node('c', { limits: { maxConnections: 1 } });
    introduce(c, b);
    introduce(b, c);
    await c.engine.connect(b.id, { permanent: true }); // b is now at capacity
    const refused = a.engine.events.once('peer:connect-failed', (e) => e.node === b.id);
    a.engine.send(message(a, b, 'waits', { expiry: Date.now() + 60_000 }));
    const { error } = await refused;
    expect(error.name).toBe('OverCapacityError');
    // Refused before it was read: back in the queue, neither delivered nor reported lost.
    expect(a.engine.queuedTo(b.id)).toBe(1);
    expect(a.sink.failed).toEqual([]);
    expect(b.sink.delivered).toEqual([]);
    await c.engine.disconnect(b.id);
    await expect.poll(() => b.sink.delivered.map((m) => m.body), { message: 'delivery' }).toEqual(['waits']);
    expect(a.sink.failed).toEqual([]);
  });

  it('reports messages sent with a ConnectRequest that a denying listener dropped', async () => {
    const [a, b] = await pair({ engine: { allowUnknownPeers: false } });
    b.directory.records.delete(a.id);
    a.engine.send(message(a, b, 'denied', { expiry: Date.now() + 60_000 }));
    await expect.poll(() => a.sink.failed.length, { message: 'reported' }).toBe(1);
    expect(a.sink.failed[0]!.error).toBeInstanceOf(PeerDeniedError);
    expect(a.engine.counters().dropped.denied).toBe(1);
    expect(b.sink.delivered).toEqual([]);
  });
});

describe('TransportEngine lifecycle', () => {
  it('reports queued messages as undeliverable on stop, and refuses sends once stopped', async () => {
    const [a, b] = await pair();
    await b.engine.stop();
    a.engine.send(message(a, b, 'waiting', { expiry: Date.now() + 60_000 }));
    await a.engine.stop();
    expect(a.sink.failed.map((f) => f.error.name)).toEqual(['ConnectionClosedError']);
    a.engine.send(message(a, b, 'after stop'));
    expect(a.sink.failed.map((f) => f.error.name)).toEqual(['ConnectionClosedError', 'NotStartedError']);
    await expect(a.engine.connect(b.id)).rejects.toThrow(/not started/);
  });

  it('streams events through status()', async () => {
    const [a, b] = await pair();
    const controller = new AbortController();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const event of a.engine.status(controller.signal)) {
        seen.push(event.type);
        if (event.type === 'peer:disconnected') controller.abort();
      }
    })();
    await a.engine.connect(b.id);
    await a.engine.disconnect(b.id);
    await reading;
    expect(seen).toEqual(['peer:connected', 'peer:disconnected']);
  });
});
