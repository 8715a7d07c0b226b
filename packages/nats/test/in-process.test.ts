import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  AbortedError,
  type EngineMessage,
  FrameTooLargeError,
  InvalidIdentityError,
  KeyPair,
  type NodeId,
  RequestTimeoutError,
  UnknownDestinationError,
} from '@netmachine/core';
import { Router } from '@netmachine/router';
import { describe, expect, it } from 'vitest';
import {
  type AttachedEngine,
  AttachRefusedError,
  attachEngine,
  NatsBridge,
  Subjects,
  UnsupportedOperationError,
} from '../src/index.js';
import {
  encodeAnnouncement,
  openAttachReply,
  sealDelivery,
  sealOut,
  signAnnouncement,
} from '../src/protocol.js';
import { newSessionId } from '../src/replay-guard.js';
import { derivePairKeys, EphemeralKey } from '../src/session-keys.js';
import { NatsServer } from '../src/testing/index.js';
import { natsServerPerFile } from './helpers.js';

const { server, cleanups } = natsServerPerFile();

async function startNode(trusted: KeyPair, servers = [server().url]) {
  const nodeKey = KeyPair.generate();
  const router = new Router({ node: nodeKey.id });
  const bridge = new NatsBridge({
    router,
    keyPair: nodeKey,
    servers,
    trustedKeys: { svc: [trusted.id] },
    heartbeatMs: 200,
    // Generous for a loaded machine: a busy test process must not look dead.
    missedHeartbeats: 10,
    minReconnectDelayMs: 50,
    maxReconnectDelayMs: 500,
  });
  cleanups.push(
    () => router.stop(),
    () => bridge.stop(),
  );
  await bridge.start();
  const collected: EngineMessage[] = [];
  router.client('collector', (msg) => {
    collected.push(msg);
  });
  router.spawn('adder', (msg, ctx) => {
    const { a, b } = msg.body as { a: number; b: number };
    ctx.reply(msg, { sum: a + b });
  });
  return { nodeKey, router, bridge, collected, subjects: new Subjects(router.node) };
}

async function attach(
  node: NodeId,
  key: KeyPair,
  handler: Parameters<typeof attachEngine>[0]['handler'],
  extra: Partial<Parameters<typeof attachEngine>[0]> = {},
): Promise<AttachedEngine> {
  const engine = await attachEngine({ servers: [server().url], node, name: 'svc', key, handler, ...extra });
  cleanups.push(() => engine.stop());
  return engine;
}

async function rawConnection(): Promise<NatsConnection> {
  const nc = await connect({ servers: [server().url] });
  cleanups.push(() => nc.close());
  return nc;
}

describe('attachEngine in the same process', () => {
  it('has the engine API: request, reply, send, and typed errors from the node', async () => {
    const key = KeyPair.generate();
    const { router, bridge, collected } = await startNode(key);
    await bridge.whenConnected();
    const engine = await attach(router.node, key, (msg, ctx) => ctx.reply(msg, { got: msg.body }));
    expect(engine.self).toEqual({ node: router.node, name: 'svc' });

    const client = router.client('tester');
    const reply = await client.request('svc', 'ping');
    expect(reply.body).toEqual({ got: 'ping' });

    const sum = await engine.request<{ sum: number }>('adder', { a: 20, b: 22 });
    expect(sum.body).toEqual({ sum: 42 });
    expect(sum.src).toEqual({ node: router.node, name: 'adder' });
    await expect(engine.request('nobody', 1)).rejects.toBeInstanceOf(UnknownDestinationError);

    engine.send(`collector@${router.node}`, 'note');
    await expect.poll(() => collected.length, { message: 'the note' }).toBe(1);
    expect(collected[0]?.src).toEqual({ node: router.node, name: 'svc' });

    await expect(engine.request('adder', { blob: randomBytes(2 * 1024 * 1024) })).rejects.toBeInstanceOf(
      FrameTooLargeError,
    );
    expect(() => engine.spawn()).toThrow(UnsupportedOperationError);
  });

  it('keeps a live process attached through a pause of its own process longer than the detach window', async () => {
    const key = KeyPair.generate();
    const { router, bridge } = await startNode(key); // detached after 10 missed heartbeats of 200 ms
    await bridge.whenConnected();
    await attach(router.node, key, (msg, ctx) => ctx.reply(msg, { got: msg.body }));
    await expect.poll(() => bridge.status().engines.svc, { message: 'the process attached' }).toBe(1);
    // Nothing in this process runs for 3 s: neither the process's heartbeats nor the bridge's reading.
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      // a pause, as a long GC or a starved CPU makes one
    }
    // The bridge's sweep, overdue, runs first among the timers, before any heartbeat is read.
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(bridge.counters().detaches).toBe(0);
    const reply = await router.client('tester').request('svc', 'after the pause');
    expect(reply.body).toEqual({ got: 'after the pause' });
  });

  it('refuses an untrusted key with AttachRefusedError', async () => {
    const { router, bridge } = await startNode(KeyPair.generate());
    await bridge.whenConnected();
    const error = await attach(router.node, KeyPair.generate(), () => {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttachRefusedError);
    expect((error as AttachRefusedError).reason).toBe('untrusted-key');
    expect(bridge.counters().refused['untrusted-key']).toBe(1);
  });

  it('bounds the process mailbox: deliveries beyond it are dropped and counted', async () => {
    const key = KeyPair.generate();
    const { router, bridge } = await startNode(key);
    await bridge.whenConnected();
    let release: () => void = () => {};
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    let handled = 0;
    const engine = await attach(
      router.node,
      key,
      async () => {
        handled++;
        await blocked;
      },
      { mailboxSize: 2 },
    );
    const client = router.client('tester');
    for (let i = 0; i < 10; i++) client.send('svc', i);
    // `received` counts every authentic delivery, kept or dropped: all 10 must have arrived.
    await expect
      .poll(() => engine.counters().received, { message: 'all deliveries' })
      .toBeGreaterThanOrEqual(10);
    expect(engine.counters().dropped.mailboxFull).toBe(7);
    release();
    await expect.poll(() => handled, { message: 'the queued deliveries handled' }).toBe(3);
  });
});

describe('bridge configuration', () => {
  it('refuses a malformed trusted key, a bad engine name or a foreign node key at construction', () => {
    const nodeKey = KeyPair.generate();
    const router = new Router({ node: nodeKey.id });
    const make = (overrides: Partial<ConstructorParameters<typeof NatsBridge>[0]>) =>
      new NatsBridge({ router, keyPair: nodeKey, servers: [server().url], ...overrides });
    expect(() => make({ trustedKeys: { svc: ['not-a-key'] } })).toThrow(InvalidIdentityError);
    expect(() => make({ trustedKeys: { 'bad name': [KeyPair.generate().id] } })).toThrow(
      InvalidIdentityError,
    );
    expect(() => make({ keyPair: KeyPair.generate() })).toThrow(InvalidIdentityError);
    expect(() => make({ trustedKeys: { svc: [KeyPair.generate().id] } })).not.toThrow();
  });
});

describe('what crosses the broker is authenticated', () => {
  it('refuses replayed, stale and tampered announcements', async () => {
    const key = KeyPair.generate();
    const { router, bridge, subjects } = await startNode(key);
    await bridge.whenConnected();
    const nc = await rawConnection();
    const fields = {
      kind: 'attach' as const,
      name: 'svc',
      instance: 'raw-instance-1',
      topics: [],
      dhKey: new EphemeralKey().publicKey,
    };

    const nonce = randomBytes(16);
    const fresh = signAnnouncement(key, router.node, { ...fields, timestamp: Date.now(), nonce });
    const accepted = await nc.request(subjects.attach, encodeAnnouncement(fresh), { timeout: 5000 });
    const context = { node: router.node, name: 'svc', instance: 'raw-instance-1', nonce };
    expect(openAttachReply(accepted.data, context).ok).toBe(true);
    expect(bridge.status().engines).toEqual({ svc: 1 });

    await expect(nc.request(subjects.attach, encodeAnnouncement(fresh), { timeout: 300 })).rejects.toThrow();
    expect(bridge.counters().refused.replayed).toBe(1);

    const oldNonce = randomBytes(16);
    const stale = signAnnouncement(key, router.node, {
      ...fields,
      timestamp: Date.now() - 120_000,
      nonce: oldNonce,
    });
    const refused = await nc.request(subjects.attach, encodeAnnouncement(stale), { timeout: 5000 });
    const reply = openAttachReply(refused.data, { ...context, nonce: oldNonce });
    expect(reply).toMatchObject({ ok: false, code: 'stale' });

    const forged = {
      ...signAnnouncement(key, router.node, { ...fields, timestamp: Date.now(), nonce: randomBytes(16) }),
    };
    const tampered = { ...forged, name: 'svc', instance: 'raw-instance-2' };
    await expect(
      nc.request(subjects.attach, encodeAnnouncement(tampered), { timeout: 300 }),
    ).rejects.toThrow();
    expect(bridge.counters().refused['bad-signature']).toBe(1);
    // Only the genuine announcement attached anything.
    expect(bridge.counters().attaches).toBe(1);
  });

  it('accepts a tagged message from an attached instance once, and nothing forged', async () => {
    const key = KeyPair.generate();
    const { router, bridge, collected, subjects } = await startNode(key);
    await bridge.whenConnected();
    const nc = await rawConnection();
    const instance = 'raw-instance-3';
    const nonce = randomBytes(16);
    const dh = new EphemeralKey();
    const announcement = signAnnouncement(key, router.node, {
      kind: 'attach',
      name: 'svc',
      instance,
      topics: [],
      timestamp: Date.now(),
      nonce,
      dhKey: dh.publicKey,
    });
    const answer = await nc.request(subjects.attach, encodeAnnouncement(announcement), { timeout: 5000 });
    const reply = openAttachReply(answer.data, { node: router.node, name: 'svc', instance, nonce });
    expect(reply.ok).toBe(true);
    // The session keys, as the process derives them from the signed handshake.
    const keys = derivePairKeys(dh.agree(reply.dhKey), {
      node: router.node,
      name: 'svc',
      instance,
      session: reply.session,
      processDhKey: dh.publicKey,
      bridgeDhKey: reply.dhKey,
    });

    const message = {
      name: 'svc',
      instance,
      kind: 'send' as const,
      id: 1,
      dst: { node: router.node, name: 'collector' },
      replyTo: undefined,
      expiry: undefined,
      protocol: 'msg@1',
      body: 'genuine',
      timeoutMs: undefined,
    };
    const genuine = sealOut(keys.out, message);
    nc.publish(subjects.out, genuine);
    nc.publish(subjects.out, genuine);
    // Tagged with a key of the attacker's own, and with the key meant for results (the wrong direction).
    nc.publish(subjects.out, sealOut(randomBytes(32), { ...message, id: 2, body: 'forged' }));
    nc.publish(subjects.out, sealOut(keys.results, { ...message, id: 4, body: 'forged' }));
    nc.publish(subjects.out, sealOut(keys.out, { ...message, id: 3, instance: 'never-attached' }));
    await nc.flush();
    await expect
      .poll(
        () =>
          bridge.counters().rejected.replayed +
          bridge.counters().rejected['bad-signature'] +
          bridge.counters().rejected['not-attached'],
        { message: 'the four rejections' },
      )
      .toBe(4);
    expect(bridge.counters().rejected).toMatchObject({ replayed: 1, 'bad-signature': 2, 'not-attached': 1 });
    expect(collected.map((m) => m.body)).toEqual(['genuine']);
  });

  it('lets a process refuse forged and replayed deliveries', async () => {
    const key = KeyPair.generate();
    const { router, bridge, subjects } = await startNode(key);
    await bridge.whenConnected();
    const seen: unknown[] = [];
    const engine = await attach(router.node, key, (msg) => {
      seen.push(msg.body);
    });
    // A bystander on the broker copies what the node sends to the engine.
    const nc = await rawConnection();
    const copies: Uint8Array[] = [];
    nc.subscribe(subjects.engine('svc'), { callback: (_error, msg) => void copies.push(msg.data) });
    await nc.flush();

    router.client('tester').send('svc', 'genuine');
    await expect
      .poll(() => seen.length === 1 && copies.length === 1, { message: 'the genuine delivery' })
      .toBe(true);

    nc.publish(subjects.engine('svc'), copies[0] as Uint8Array);
    const forged = sealDelivery(randomBytes(32), {
      session: bridge.session,
      seq: 1_000,
      instance: undefined,
      requestId: undefined,
      error: undefined,
      id: 1,
      src: { node: router.node, name: 'tester' },
      topic: undefined,
      replyTo: undefined,
      expiry: undefined,
      protocol: 'msg@1',
      body: 'forged',
    });
    nc.publish(subjects.engine('svc'), forged);
    await expect.poll(() => engine.counters().dropped.invalid, { message: 'both refused' }).toBe(2);
    // A delivery claiming a newer session cannot be checked until the node answers: held, then
    // refused once the node's answer brings no such session.
    const newer = sealDelivery(randomBytes(32), {
      session: newSessionId(Date.now() + 60_000, 'not-the-node'),
      seq: 0,
      instance: undefined,
      requestId: undefined,
      error: undefined,
      id: 2,
      src: { node: router.node, name: 'tester' },
      topic: undefined,
      replyTo: undefined,
      expiry: undefined,
      protocol: 'msg@1',
      body: 'forged, newer session',
    });
    nc.publish(subjects.engine('svc'), newer);
    await expect.poll(() => engine.counters().dropped.invalid, { message: 'held, then refused' }).toBe(3);
    expect(seen).toEqual(['genuine']);
    expect(engine.attached).toBe(true);
  });
});

describe('NATS outages', () => {
  it('counts every message that expires while NATS is down as expired, none as sent to a dead link', async () => {
    const own = await NatsServer.start();
    cleanups.push(() => own.close());
    const key = KeyPair.generate();
    const { router, bridge } = await startNode(key, [own.url]);
    await bridge.whenConnected();
    await attach(router.node, key, (msg, ctx) => ctx.reply(msg, msg.body), { servers: [own.url] });
    const client = router.client('tester');
    expect((await client.request('svc', 'before')).body).toBe('before');

    await own.kill();
    await expect.poll(() => bridge.connected, { message: 'the bridge to see the outage' }).toBe(false);
    // One at a time, so that each waits in the proxy until its expiry. The expiry timer may fire a
    // millisecond before the wall clock reaches the expiry; such a message is expired all the same.
    const count = 40;
    for (let i = 0; i < count; i++) {
      await expect(client.request('svc', i, { timeoutMs: 10 + (i % 7) })).rejects.toBeInstanceOf(
        RequestTimeoutError,
      );
    }
    // Expired in the proxy's wait (the bridge counts it) or still in the proxy's mailbox (the router does).
    const expired = () => bridge.counters().dropped.expired + router.counters().dropped.expired;
    await expect.poll(expired, { message: 'every message accounted for as expired' }).toBe(count);
    expect(bridge.counters().dropped).toMatchObject({ disconnected: 0, publishFailed: 0 });
  });

  it('starts while NATS is down, connects when it comes up, and stops cleanly while it is down', async () => {
    const own = await NatsServer.start();
    cleanups.push(() => own.close());
    await own.stop();
    const key = KeyPair.generate();
    const { router, bridge } = await startNode(key, [own.url]);
    expect(bridge.connected).toBe(false);
    // The node works without NATS: attached names are simply unknown.
    await expect(router.client('tester').request('svc', 1)).rejects.toBeInstanceOf(UnknownDestinationError);

    await own.restart();
    await bridge.whenConnected();
    const engine = await attachEngine({
      servers: [own.url],
      node: router.node,
      name: 'svc',
      key,
      handler: (msg, ctx) => ctx.reply(msg, 'pong'),
    });
    cleanups.push(() => engine.stop());
    expect((await router.client('tester2').request('svc', 'ping')).body).toBe('pong');

    await own.kill();
    await expect
      .poll(() => !bridge.connected && !engine.attached, { message: 'both sides to see the outage' })
      .toBe(true);
    await bridge.stop();
    await engine.stop();
    expect(router.engine('svc')).toBeUndefined();
  });

  it('lets a process wait for NATS to attach, until its signal gives up', async () => {
    const own = await NatsServer.start();
    cleanups.push(() => own.close());
    await own.stop();
    const attaching = attachEngine({
      servers: [own.url],
      node: KeyPair.generate().id,
      name: 'svc',
      key: KeyPair.generate(),
      handler: () => {},
      signal: AbortSignal.timeout(500),
    });
    await expect(attaching).rejects.toBeInstanceOf(AbortedError);
  });
});
