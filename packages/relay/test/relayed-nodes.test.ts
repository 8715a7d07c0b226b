import type { NodeId } from '@netmachine/core';
import { createNode } from '@netmachine/node';
import { faulty } from '@netmachine/transport/testing';
import { sharedFramePool } from '@netmachine/transport/wire';
import { tls } from '@netmachine/transport-tls';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  RelayDestinationNotServedError,
  RelayOverCapacityError,
  RelaySourceNotAllowedError,
  relay,
  relayAddress,
} from '../src/index.js';
import { collect, nodes, type RelayNode, start, stopAll } from './real-nodes.js';

afterEach(stopAll);

describe('relayed paths between real nodes', () => {
  it('carries unicast in order and request/response through the relay, never direct', async () => {
    const b = await start({ offer: { policy: { kind: 'anyone' } } });
    const c = await start({}, { behind: [b] });
    const a = await start({}, { peers: [b, c] });
    const got = collect(c, 'sink');
    const client = a.client('asker');
    for (let i = 0; i < 20; i++) client.send({ node: c.id, name: 'sink' }, { i });
    await expect.poll(() => got.length).toBe(20);
    expect(got.map((m) => (m.body as { i: number }).i)).toEqual([...Array(20).keys()]);
    expect(got.every((m) => m.src.node === a.id)).toBe(true);

    const reply = await client.request({ node: c.id, name: 'sink' }, 'ping', { protocol: 'echo' });
    expect(reply.body).toBe('ping');
    expect(a.transport.connectedNodes()).not.toContain(c.id);
    expect(a.transport.counters().relayedOut).toBeGreaterThanOrEqual(21);
    expect(c.transport.counters().relayedIn).toBeGreaterThanOrEqual(21);
    // The reply went back the way the request came.
    expect(c.transport.counters().relayedOut).toBeGreaterThanOrEqual(1);
    // The 20 sent in one task went as one RelayMessage; the request and the reply as one each.
    expect(a.services.relay.counters().sealed).toBeGreaterThanOrEqual(21);
    expect(b.services.relay.counters().forwarded).toBeGreaterThanOrEqual(3);
    expect(b.services.relay.counters().forwarded).toBeLessThan(22);
    expect(a.services.relay.pathTo(c.id)).toEqual({ via: 'relay', relay: b.id });
    expect(a.services.relay.pathTo(b.id)).toEqual({ via: 'direct' });
    // Each Forward and Deliver went as a Relay link frame: the links had nothing queued before them.
    expect(a.services.relay.counters().sentAsFrames).toBeGreaterThanOrEqual(2);
    expect(c.services.relay.counters().sentAsFrames).toBeGreaterThanOrEqual(1);
    expect(b.services.relay.counters().sentAsFrames).toBe(b.services.relay.counters().forwarded);
  });

  it('a destination whose receiving engine fills while the relay engine opens a batch keeps reading: everything arrives', async () => {
    const b = await start({ offer: { policy: { kind: 'anyone' } } });
    const c = await start({}, { behind: [b] });
    const a = await start({}, { peers: [b, c] });
    // A receiving engine with room for 16: each batch of up to 261 fills it while the relay engine
    // hands the batch's messages on (in the read that brought it), and the rest wait for room.
    const got: number[] = [];
    c.spawn('small', (m) => void got.push(m.body as number), { mailboxSize: 16 });
    const client = a.client('asker');
    // The path through the relay is set up first (until then messages wait in a bounded queue).
    client.send({ node: c.id, name: 'small' }, -1);
    await expect.poll(() => got.length).toBe(1);
    const count = 3000;
    for (let task = 0; task < count / 500; task++) {
      for (let i = 0; i < 500; i++) client.send({ node: c.id, name: 'small' }, task * 500 + i);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await expect.poll(() => got.length, { timeout: 20_000 }).toBe(count + 1);
    expect(got).toEqual([-1, ...Array(count).keys()]);
    expect(c.counters().router.dropped['mailbox-full']).toBe(0);
  });

  it('seals a reply at once, and what the same task sends after it follows it in order', async () => {
    const b = await start({ offer: { policy: { kind: 'anyone' } } });
    const c = await start({}, { behind: [b] });
    const a = await start({}, { peers: [b, c] });
    const got = collect(a, 'sink');
    const sealedAtReply: number[] = [];
    c.spawn('answerer', (m, ctx) => {
      if (m.replyTo !== undefined) return;
      const before = c.services.relay.counters().sealed;
      ctx.reply(m, 'answer');
      // Sealed (and handed to the link) before the handler returns, not at the end of the task.
      sealedAtReply.push(c.services.relay.counters().sealed - before);
      for (let i = 0; i < 3; i++) ctx.send({ node: a.id, name: 'sink' }, i);
    });
    const reply = await a.client('asker').request({ node: c.id, name: 'answerer' }, 'question');
    expect(reply.body).toBe('answer');
    expect(sealedAtReply).toEqual([1]);
    await expect.poll(() => got.length).toBe(3);
    expect(got.map((m) => m.body)).toEqual([0, 1, 2]);
    // The three after the reply went as one more RelayMessage.
    expect(c.services.relay.counters().sealed).toBe(4);
    expect(b.services.relay.counters().forwarded).toBe(3);
  });

  it('splits a task of messages into full 64 KiB RelayMessages, and delivers every one in order', async () => {
    const sizes: number[] = [];
    const b = await start({ offer: { policy: { kind: 'anyone' } }, tap: (e) => sizes.push(e.sealed.length) });
    const c = await start({}, { behind: [b] });
    const a = await start({}, { peers: [b, c] });
    const got = collect(c, 'sink');
    const client = a.client('asker');
    // 600 bodies of 200 bytes (about 150 KB) in one task: more than two RelayMessages' worth.
    const count = 600;
    for (let i = 0; i < count; i++)
      client.send({ node: c.id, name: 'sink' }, [i, Buffer.alloc(200, i & 0xff)]);
    await expect.poll(() => got.length).toBe(count);
    expect(got.map((m) => (m.body as [number, Uint8Array])[0])).toEqual([...Array(count).keys()]);
    expect(
      got.every((m) =>
        Buffer.from((m.body as [number, Uint8Array])[1]).equals(
          Buffer.alloc(200, (m.body as [number])[0] & 0xff),
        ),
      ),
    ).toBe(true);
    // Whole batches fill the 64 KiB bucket; only the last of the task may be smaller.
    expect(sizes.length).toBeGreaterThanOrEqual(3);
    expect(sizes.slice(0, -1).every((size) => size === 65_536)).toBe(true);
    expect(a.services.relay.counters().sealed).toBe(count);
    // All but the first joined the batch open in the task, each counted once as relayed.
    expect(a.transport.counters().relayedOut).toBe(count);
  });

  it('hands the frame buffer of each batch back once passed on: later frames reuse it, every batch arrives intact', async () => {
    const b = await start({ offer: { policy: { kind: 'anyone' } } });
    const c = await start({}, { behind: [b] });
    const a = await start({}, { peers: [b, c] });
    const got = collect(c, 'sink');
    const client = a.client('asker');
    // The path through the relay is set up first (until then messages wait in a bounded queue).
    client.send({ node: c.id, name: 'sink' }, [-1, Buffer.alloc(0)]);
    await expect.poll(() => got.length).toBe(1);
    got.length = 0;
    const before = sharedFramePool.stats();
    // Tasks of 260 messages (a full 64 KiB batch or nearly): every batch is a frame over 16 KiB,
    // which spans TLS records and is reassembled in a pooled buffer at the relay.
    const body = (i: number) => [i, Buffer.alloc(200, (i * 7) & 0xff)];
    const tasks = 12;
    for (let t = 0; t < tasks; t++) {
      for (let i = t * 260; i < (t + 1) * 260; i++) client.send({ node: c.id, name: 'sink' }, body(i));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const count = tasks * 260;
    await expect.poll(() => got.length).toBe(count);
    expect(got.map((m) => (m.body as [number])[0])).toEqual([...Array(count).keys()]);
    const intact = got.filter((m) => {
      const [i, bytes] = m.body as [number, Uint8Array];
      return Buffer.from(bytes).equals(body(i)[1] as Buffer);
    });
    expect(intact.length).toBe(count);
    const after = sharedFramePool.stats();
    // The relay handed buffers back, and later frames were read into them.
    expect(after.returned - before.returned).toBeGreaterThan(0);
    expect(after.reused - before.reused).toBeGreaterThan(0);
  });

  it('a relay whose queue to the destination overflows refuses with over-capacity, a typed error at the source', async () => {
    // The relay's connections delay every write once the knob is set: its queue to C cannot drain.
    const faults = faulty(tls());
    const b = (await createNode({
      transports: [faults],
      listen: ['tls://127.0.0.1:0'],
      services: {
        relay: relay({ offer: { policy: { kind: 'anyone' }, queuePerDestination: 4, holdMs: 50 } }),
      },
    })) as RelayNode;
    nodes.push(b);
    await b.start();
    const c = await start({}, { behind: [b] });
    const a = await start({}, { peers: [b, c] });
    collect(c, 'sink');
    const client = a.client('asker');
    // The path works before the fault.
    await expect(
      client.request({ node: c.id, name: 'sink' }, 'ping', { protocol: 'echo' }),
    ).resolves.toBeDefined();
    faults.controller.knobs.delayMs = 1000;
    // 24 requests of 8 KiB, one 16 KiB RelayMessage per task: about 390 KB, far more than the delayed
    // connection takes before it pushes back (64 KiB), so the relay's queue to C fills and stays full.
    const outcomes: unknown[] = [];
    for (let i = 0; i < 24; i++) {
      client
        .request({ node: c.id, name: 'sink' }, Buffer.alloc(8192, i), { protocol: 'echo', timeoutMs: 8000 })
        .then(
          () => outcomes.push('answered'),
          (error: unknown) => outcomes.push(error),
        );
      await new Promise((resolve) => setImmediate(resolve));
    }
    const overCapacity = (): unknown[] => outcomes.filter((o) => o instanceof RelayOverCapacityError);
    await expect.poll(() => overCapacity().length, { timeout: 8000 }).toBeGreaterThan(0);
    expect((overCapacity()[0] as RelayOverCapacityError).name).toBe('RelayOverCapacityError');
    const k = b.services.relay.counters();
    expect(k.heldBack).toBeGreaterThan(0);
    expect(k.refused['over-capacity']).toBeGreaterThan(0);
    expect(a.services.relay.counters().refusedBack['over-capacity']).toBeGreaterThanOrEqual(
      overCapacity().length,
    );
    faults.controller.knobs.delayMs = 0;
  });

  it('a relay whose policy excludes the source refuses it with a typed error at the source', async () => {
    const outsider = await start({});
    // The relay relays for (and serves) only the members of one domain: here, the node behind it.
    let member: NodeId | undefined;
    const b = await start({
      offer: {
        policy: { kind: 'domains', domains: [outsider.id as never], isMember: (_, n) => n === member },
      },
    });
    const behind = await start({}, { behind: [b], beforeStart: (id) => (member = id) });
    await outsider.addPeer(b.advert);
    await outsider.addPeer(behind.advert);
    collect(behind, 'sink');
    const request = outsider
      .client('asker')
      .request({ node: behind.id, name: 'sink' }, 'x', { protocol: 'echo' });
    await expect(request).rejects.toBeInstanceOf(RelaySourceNotAllowedError);
    expect(b.services.relay.counters().refused['source-not-allowed']).toBe(1);
    expect(outsider.services.relay.counters().refusedBack['source-not-allowed']).toBe(1);
  });

  it('refuses a destination the relay does not serve, with a typed error', async () => {
    const b = await start({ offer: { policy: { kind: 'anyone' } } });
    const c = await start({}, { behind: [b] });
    const a = await start({}, { peers: [b, c] });
    // c stops: b no longer serves it (its link is gone), but a still has c's advert.
    await c.stop();
    await expect.poll(() => b.services.relay.counters().served).toBe(0);
    const request = a.client('asker').request({ node: c.id, name: 'sink' }, 'x', { protocol: 'echo' });
    await expect(request).rejects.toBeInstanceOf(RelayDestinationNotServedError);
    expect(b.services.relay.counters().refused['not-served']).toBe(1);
  });

  it('messages wait for a relay link and flow through the second relay when the first is gone', async () => {
    const b = await start({ offer: { policy: { kind: 'anyone' } } });
    const b2 = await start({ offer: { policy: { kind: 'anyone' } } });
    const c = await start({}, { behind: [b, b2] });
    const a = await start({}, { peers: [b, b2, c] });
    const got = collect(c, 'sink');
    const client = a.client('asker');
    client.send({ node: c.id, name: 'sink' }, { i: 0 }, { ttlMs: 10_000 });
    await expect.poll(() => got.length).toBe(1);
    await b.stop();
    await expect.poll(() => a.transport.connectedNodes().includes(b.id)).toBe(false);
    for (let i = 1; i <= 5; i++) client.send({ node: c.id, name: 'sink' }, { i }, { ttlMs: 10_000 });
    await expect.poll(() => got.length).toBe(6);
    // Sent in one task: sealed together, one RelayMessage through b2.
    expect(b2.services.relay.counters().forwarded).toBe(1);
    expect(a.services.relay.pathTo(c.id)).toEqual({ via: 'relay', relay: b2.id });
  });
});

describe('direct first, relay as fallback, direct again when it works', () => {
  it('falls back to the relay when a direct dial fails, and returns to direct once one works', async () => {
    const b = await start({ offer: { policy: { kind: 'anyone' } } });
    // d listens and advertises its address as well as its relay.
    const d = await createNode({
      transports: [tls()],
      listen: ['tls://127.0.0.1:0'],
      advertise: [relayAddress(b.id)],
      peers: [{ advert: b.advert }],
      services: { relay: relay({ use: [b.id] }) },
    });
    nodes.push(d as RelayNode);
    await d.start();
    await expect.poll(() => d.services.relay.registeredWith()).toEqual([b.id]);
    const faults = faulty(tls());
    const a = await createNode({
      transports: [faults],
      listen: ['tls://127.0.0.1:0'],
      peers: [{ advert: b.advert }, { advert: d.advert }],
      services: { relay: relay({ probeIntervalMs: 100 }) },
    });
    nodes.push(a as RelayNode);
    await a.start();
    await a.transport.connect(b.id);
    const got = collect(d as RelayNode, 'sink');
    const client = a.client('app');
    // No direct dial works now: the first message waits for the failed dial, then goes by relay.
    faults.controller.knobs.refuseDials = true;
    client.send({ node: d.id, name: 'sink' }, 'first', { ttlMs: 10_000 });
    await expect.poll(() => got.length).toBe(1);
    expect(faults.controller.counts.refusedDials).toBeGreaterThanOrEqual(1);
    expect(a.transport.counters().relayedOut).toBe(1);
    expect(a.services.relay.pathTo(d.id)).toEqual({ via: 'relay', relay: b.id });
    // Dials work again: a later message starts a direct probe, and once it is up messages go direct.
    faults.controller.knobs.refuseDials = false;
    let sent = 1;
    await vi.waitFor(
      () => {
        client.send({ node: d.id, name: 'sink' }, `m${sent++}`, { ttlMs: 10_000 });
        expect(a.transport.isConnected(d.id)).toBe(true);
      },
      { timeout: 20_000, interval: 50 },
    );
    const relayedBefore = a.transport.counters().relayedOut;
    client.send({ node: d.id, name: 'sink' }, 'direct', { ttlMs: 10_000 });
    await expect.poll(() => got.some((m) => m.body === 'direct')).toBe(true);
    expect(a.transport.counters().relayedOut).toBe(relayedBefore);
    expect(a.services.relay.pathTo(d.id)).toEqual({ via: 'direct' });
    await expect.poll(() => got.length).toBe(sent + 1);
  });
});
