import {
  ConnectionClosedError,
  type EngineAddress,
  type EngineMessage,
  KeyPair,
  RequestTimeoutError,
  UnknownDestinationError,
} from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import { link, newRouter } from './helpers.js';

describe('routing between two nodes through a NodeSender', () => {
  it('sends and requests across, with replies routed back to the asking engine', async () => {
    const a = newRouter();
    const b = newRouter();
    link(a, b);
    const got: unknown[] = [];
    b.spawn('sink', (m) => {
      got.push([m.src.node === a.node, m.body]);
    });
    b.spawn('echo', (m, ctx) => ctx.reply(m, { from: 'b', body: m.body }));
    const client = a.client('c');
    client.send({ node: b.node, name: 'sink' }, 'hello');
    const reply = await client.request({ node: b.node, name: 'echo' }, 5);
    expect(reply.body).toEqual({ from: 'b', body: 5 });
    expect(reply.src).toEqual({ node: b.node, name: 'echo' });
    await expect.poll(() => got.length).toBe(1);
    expect(got).toEqual([[true, 'hello']]);
    expect(a.counters().sentRemote).toBe(2);
    expect(b.counters().receivedRemote).toBe(2);
  });

  it('rejects a request to an unreachable node at once', async () => {
    const a = newRouter();
    const b = newRouter();
    const wire = link(a, b);
    wire.cut();
    await expect(
      a.client('c').request({ node: b.node, name: 'echo' }, 1, { timeoutMs: 60_000 }),
    ).rejects.toBeInstanceOf(UnknownDestinationError);
    const noSender = newRouter();
    await expect(noSender.client('c').request({ node: b.node, name: 'x' }, 1)).rejects.toBeInstanceOf(
      UnknownDestinationError,
    );
  });

  it('fails a request whose message the transport reports undeliverable', async () => {
    const a = newRouter();
    const b = newRouter();
    a.setNodeSender({
      canReach: () => true,
      send: (m) => setImmediate(() => a.undeliverable(m, new ConnectionClosedError('peer gone'))),
    });
    await expect(
      a.client('c').request({ node: b.node, name: 'echo' }, 1, { timeoutMs: 60_000 }),
    ).rejects.toBeInstanceOf(ConnectionClosedError);
    expect(a.counters().dropped.undeliverable).toBe(1);
  });

  it('fails the requests waiting on a node whose connection was lost, and only those', async () => {
    const a = newRouter();
    const b = newRouter();
    const c = newRouter();
    const sent: EngineMessage[] = [];
    a.setNodeSender({ canReach: () => true, send: (m) => sent.push(m) });
    const client = a.client('c');
    const toB = client.request({ node: b.node, name: 'echo' }, 1, { timeoutMs: 60_000 });
    const toC = client.request({ node: c.node, name: 'echo' }, 2, { timeoutMs: 60_000 });
    const lost = new ConnectionClosedError('reset');
    a.connectionLost(b.node, lost);
    await expect(toB).rejects.toBe(lost);
    // The request to c is still waiting: its reply settles it.
    const request = sent.find((m) => (m.dst as EngineAddress).node === c.node)!;
    a.deliver({
      id: 99,
      src: request.dst as EngineAddress,
      dst: request.src,
      replyTo: request.id,
      protocol: 'x',
      body: 'pong',
    });
    expect((await toC).body).toBe('pong');
  });

  it('times out a remote request whose reply never comes, and gives a request an expiry', async () => {
    const a = newRouter();
    const b = newRouter();
    link(a, b);
    let expiry: number | undefined;
    b.spawn('silent', (m) => {
      expiry = m.expiry;
    });
    const before = Date.now();
    await expect(
      a.client('c').request({ node: b.node, name: 'silent' }, 1, { timeoutMs: 30 }),
    ).rejects.toBeInstanceOf(RequestTimeoutError);
    expect(expiry).toBeGreaterThanOrEqual(before + 30);
  });

  it('does not accept a reply from a node other than the one asked', async () => {
    const a = newRouter();
    const b = newRouter();
    link(a, b);
    b.spawn('silent', () => {});
    const client = a.client('c');
    const pending = client.request({ node: b.node, name: 'silent' }, 1, { timeoutMs: 50 });
    // A reply claiming to come from a different engine on b.
    a.deliver({
      id: 1,
      src: { node: b.node, name: 'other' },
      dst: client.self,
      replyTo: 1,
      protocol: 'msg@1',
      body: 'x',
    });
    await expect(pending).rejects.toBeInstanceOf(RequestTimeoutError);
  });
});

/**
 * A router whose engine 'slow' (with these options) holds every message until `release`, and
 * remote messages to it from a node 'far'.
 */
function gatedSlowEngine(options: Parameters<ReturnType<typeof newRouter>['spawn']>[2]) {
  const a = newRouter();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const seen: unknown[] = [];
  a.spawn(
    'slow',
    async (m) => {
      await gate;
      seen.push(m.body);
    },
    options,
  );
  const src = { node: newRouter().node, name: 'far' };
  const dst = { node: a.node, name: 'slow' };
  const message = (i: number) => ({ id: i, src, dst, protocol: 'msg@1', body: i });
  return { a, release, seen, message };
}

describe('backpressure towards other nodes', () => {
  it('parks a remote message for a full engine, says so, and calls onRoom once it is taken', async () => {
    const { a, release, seen, message } = gatedSlowEngine({ mailboxSize: 2 });
    let rooms = 0;
    const onRoom = () => {
      rooms++;
    };
    expect(a.deliver(message(1), onRoom)).toBe(true);
    await expect.poll(() => a.engine('slow')?.queued).toBe(0);
    expect(a.deliver(message(2), onRoom)).toBe(true);
    expect(a.deliver(message(3), onRoom)).toBe(true);
    // The mailbox is full: the next two are kept, not dropped, and the caller is told to pause.
    expect(a.deliver(message(4), onRoom)).toBe(false);
    expect(a.deliver(message(5), onRoom)).toBe(false);
    expect(a.counters().dropped['mailbox-full']).toBe(0);
    release();
    await expect.poll(() => seen.length).toBe(5);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(rooms).toBe(2);
  });

  it('keeps up to maxParked remote messages behind a full mailbox, and drops (counted) beyond', async () => {
    const { a, release, seen, message } = gatedSlowEngine({
      mailboxSize: 2,
      maxParked: 4,
      mailboxPolicy: 'wait',
    });
    const onRoom = () => {};
    a.deliver(message(1), onRoom);
    await expect.poll(() => a.engine('slow')?.queued).toBe(0);
    a.deliver(message(2), onRoom);
    a.deliver(message(3), onRoom);
    // Four kept behind the mailbox of two (as many as maxParked, not as the mailbox), the fifth dropped.
    for (let i = 4; i <= 7; i++) expect(a.deliver(message(i), onRoom)).toBe(false);
    expect(a.counters().dropped['mailbox-full'] ?? 0).toBe(0);
    a.deliver(message(8), onRoom);
    expect(a.counters().dropped['mailbox-full']).toBe(1);
    release();
    await expect.poll(() => seen.length).toBe(7);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('a drop-oldest engine keeps its policy for remote messages', async () => {
    const a = newRouter();
    a.spawn('latest', async () => new Promise(() => {}), { mailboxSize: 1, mailboxPolicy: 'drop-oldest' });
    const src = { node: newRouter().node, name: 'far' };
    const dst = { node: a.node, name: 'latest' };
    const onRoom = () => {};
    a.deliver({ id: 1, src, dst, protocol: 'msg@1', body: 1 }, onRoom);
    await expect.poll(() => a.engine('latest')?.queued).toBe(0);
    a.deliver({ id: 2, src, dst, protocol: 'msg@1', body: 2 }, onRoom);
    expect(a.deliver({ id: 3, src, dst, protocol: 'msg@1', body: 3 }, onRoom)).toBe(true);
    expect(a.counters().dropped['mailbox-evicted']).toBe(1);
  });
  it('runs the engines a read delivered to when the read ends, not before and not later', () => {
    const a = newRouter();
    const b = newRouter();
    const got: unknown[] = [];
    b.spawn('sink', (m) => {
      got.push(m.body);
    });
    const message = (body: number): EngineMessage => ({
      id: body,
      src: { node: a.node, name: 'c' },
      dst: { node: b.node, name: 'sink' },
      replyTo: undefined,
      expiry: undefined,
      prefs: undefined,
      protocol: 'msg@1',
      body,
      sig: undefined,
    });
    b.readStarted();
    b.deliver(message(1));
    b.deliver(message(2));
    expect(got).toEqual([]);
    b.readEnded();
    // Synchronously, before any microtask.
    expect(got).toEqual([1, 2]);
    // Outside a read, delivery still leaves the run for later.
    b.deliver(message(3));
    expect(got).toEqual([1, 2]);
  });

  it('a runOnArrival engine that delivers into a full engine does not make its own message look parked', () => {
    const a = newRouter();
    const src = { node: newRouter().node, name: 'far' };
    // A slow engine with a mailbox of one (it runs only after the read), and an engine that hands on each message it gets (as a
    // relay's destination hands on what it opened), run as each arrives.
    a.spawn('slow', () => {}, { mailboxSize: 1 });
    const handedOn: boolean[] = [];
    a.spawn(
      'opener',
      (m) => {
        for (let i = 0; i < 2; i++) {
          const inner: EngineMessage = {
            id: 100 + i,
            src,
            dst: { node: a.node, name: 'slow' },
            protocol: 'm@1',
            body: i,
          };
          handedOn.push(a.deliver(inner, () => {}));
        }
        void m;
      },
      { runOnArrival: true },
    );
    const outer: EngineMessage = {
      id: 1,
      src,
      dst: { node: a.node, name: 'opener' },
      protocol: 'm@1',
      body: 0,
    };
    let outerRoom = 0;
    // The outer message was handled at once: it is not parked, whatever its handler's deliveries were.
    expect(a.deliver(outer, () => outerRoom++)).toBe(true);
    // The second found the slow engine full and was parked (its own onRoom will say when).
    expect(handedOn).toEqual([true, false]);
    expect(outerRoom).toBe(0);
  });

  it('runs an idle runOnArrival engine as its message arrives, and queues behind a busy one in order', async () => {
    const a = newRouter();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const seen: unknown[] = [];
    a.spawn(
      'forward',
      (m) => {
        seen.push(m.body);
        // The first message holds the engine (as a relay holding back would).
        if (m.body === 1) return gate;
      },
      { runOnArrival: true },
    );
    const src = { node: newRouter().node, name: 'far' };
    const dst = { node: a.node, name: 'forward' };
    const message = (i: number, expiry?: number): EngineMessage => ({
      id: i,
      src,
      dst,
      expiry,
      protocol: 'msg@1',
      body: i,
    });
    a.readStarted();
    a.deliver(message(1));
    // Handled in the call that delivered it, inside the read.
    expect(seen).toEqual([1]);
    a.deliver(message(2));
    a.deliver(message(3, Date.now() - 1));
    a.deliver(message(4));
    a.readEnded();
    // The handler of 1 has not settled: 2 and 4 wait in the mailbox behind it (3 expired).
    expect(seen).toEqual([1]);
    release();
    await expect.poll(() => seen.length).toBe(3);
    expect(seen).toEqual([1, 2, 4]);
    expect(a.counters().dropped.expired).toBe(1);
    // Idle again: the next one is handled at once, even outside a read.
    a.deliver(message(5));
    expect(seen).toEqual([1, 2, 4, 5]);
    // A message from a local engine goes through the mailbox as ever, a local topic event too.
    a.client('local').send('forward', 6);
    const topic = KeyPair.generate().topicId;
    const publisher = a.client('pub');
    a.createTopic(topic, publisher.self);
    const subscriber = a.client('sub', (m) => void seen.push(m.body), { runOnArrival: true });
    subscriber.subscribe(topic);
    publisher.publish(topic, 7);
    expect(seen).toEqual([1, 2, 4, 5]);
    await expect.poll(() => seen.length).toBe(6);
    expect(seen.slice(4).sort()).toEqual([6, 7]);
  });
});
