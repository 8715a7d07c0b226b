import {
  AbortedError,
  AlreadyExistsError,
  EncodedBody,
  type EngineMessage,
  pack,
  RequestTimeoutError,
  UnknownDestinationError,
} from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import { newRouter } from './helpers.js';

describe('local unicast', () => {
  it('delivers messages between engines in send order, with source and protocol', async () => {
    const router = newRouter();
    const got: EngineMessage[] = [];
    router.spawn('sink', (m) => {
      got.push(m);
    });
    const client = router.client('client');
    for (let i = 0; i < 100; i++) client.send('sink', { i }, { protocol: 'test@1' });
    await expect.poll(() => got.length).toBe(100);
    expect(got.map((m) => (m.body as { i: number }).i)).toEqual([...Array(100).keys()]);
    expect(got[0]?.src).toEqual({ node: router.node, name: 'client' });
    expect(got[0]?.protocol).toBe('test@1');
    expect(router.counters().delivered).toBe(100);
    await router.stop();
  });

  it('hands a local engine the value of a body encoded for the wire', async () => {
    const router = newRouter();
    const got: unknown[] = [];
    router.spawn('sink', (m) => {
      got.push(m.body);
    });
    router.client('c').send('sink', new EncodedBody(pack({ a: [1, 'two'] })));
    await expect.poll(() => got.length).toBe(1);
    expect(got).toEqual([{ a: [1, 'two'] }]);
  });

  it('accepts `name@node` text destinations', async () => {
    const router = newRouter();
    const got: unknown[] = [];
    router.spawn('sink', (m) => {
      got.push(m.body);
    });
    router.client('c').send(`sink@${router.node}`, 'hi');
    await expect.poll(() => got.length).toBe(1);
    expect(got).toEqual(['hi']);
  });

  it('runs one message at a time per engine, even with async handlers', async () => {
    const router = newRouter();
    let active = 0;
    let maxActive = 0;
    let done = 0;
    router.spawn('slow', async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise((resolve) => setTimeout(resolve, 1));
      active--;
      done++;
    });
    const client = router.client('c');
    for (let i = 0; i < 20; i++) client.send('slow', i);
    await expect.poll(() => done).toBe(20);
    expect(maxActive).toBe(1);
  });

  it('drops a send to an unknown engine and counts it', () => {
    const router = newRouter();
    router.client('c').send('nobody', 1);
    expect(router.counters().dropped['unknown-destination']).toBe(1);
  });

  it('refuses a second engine with the same name and bad names', () => {
    const router = newRouter();
    router.spawn('a', () => {});
    expect(() => router.spawn('a', () => {})).toThrow(AlreadyExistsError);
    expect(() => router.spawn('has space', () => {})).toThrow();
    expect(() => router.spawn('', () => {})).toThrow();
  });

  it('never delivers an expired message', async () => {
    const router = newRouter();
    const got: unknown[] = [];
    router.spawn('sink', (m) => {
      got.push(m.body);
    });
    const client = router.client('c');
    client.send('sink', 'old', { expiry: Date.now() - 1 });
    client.send('sink', 'fresh', { ttlMs: 60_000 });
    // Fence: sent last, handled last (one mailbox, FIFO), so 'old' has been dropped or delivered by then.
    client.send('sink', 'fence');
    await expect.poll(() => got.includes('fence')).toBe(true);
    expect(got).toEqual(['fresh', 'fence']);
    expect(router.counters().dropped.expired).toBe(1);
  });

  it('keeps an engine running after its handler throws (policy continue), stops it under policy stop', async () => {
    const router = newRouter();
    const events: string[] = [];
    router.onEvent((e) => events.push(e.type));
    let handled = 0;
    router.spawn('flaky', (m) => {
      handled++;
      if (m.body === 'boom') throw new Error('boom');
    });
    const fragile = router.spawn(
      'fragile',
      () => {
        throw new Error('fatal');
      },
      { onError: 'stop' },
    );
    const client = router.client('c');
    client.send('flaky', 'boom');
    client.send('flaky', 'ok');
    client.send('fragile', 'x');
    await expect.poll(() => handled === 2 && router.engine('fragile') === undefined).toBe(true);
    expect(router.counters().handlerErrors).toBe(2);
    expect(events.filter((t) => t === 'engine:error')).toHaveLength(2);
    expect(events).toContain('engine:stopped');
    expect(fragile.queued).toBe(0);
    client.send('fragile', 'after');
    expect(router.counters().dropped['unknown-destination']).toBe(1);
  });
});

describe('local request/response', () => {
  it('resolves with the reply', async () => {
    const router = newRouter();
    router.spawn('echo', (m, ctx) => ctx.reply(m, { echoed: m.body }));
    const reply = await router.client('c').request('echo', 42);
    expect(reply.body).toEqual({ echoed: 42 });
    expect(reply.src.name).toBe('echo');
  });

  it('serves many concurrent requests, each with its own reply', async () => {
    const router = newRouter();
    router.spawn('double', (m, ctx) => ctx.reply(m, (m.body as number) * 2));
    const client = router.client('c');
    const replies = await Promise.all([...Array(500).keys()].map((i) => client.request('double', i)));
    expect(replies.map((r) => r.body)).toEqual([...Array(500).keys()].map((i) => i * 2));
  });

  it('rejects at once with UnknownDestinationError when no engine has the name', async () => {
    const router = newRouter();
    await expect(router.client('c').request('nobody', 1, { timeoutMs: 60_000 })).rejects.toBeInstanceOf(
      UnknownDestinationError,
    );
  });

  it('rejects with RequestTimeoutError when no reply comes', async () => {
    const router = newRouter();
    router.spawn('silent', () => {});
    await expect(router.client('c').request('silent', 1, { timeoutMs: 20 })).rejects.toBeInstanceOf(
      RequestTimeoutError,
    );
    expect(router.counters().requestsTimedOut).toBe(1);
  });

  it('times out each request at its own deadline, whatever became of the requests around it', async () => {
    const router = newRouter();
    router.spawn('silent', () => {});
    router.spawn('echo', (m, ctx) => ctx.reply(m, m.body));
    const client = router.client('c');
    const controller = new AbortController();
    // One timeout queue shared by three requests (one answered), and one long timeout of its own.
    const first = client.request('silent', 1, { timeoutMs: 30 });
    const answered = client.request('echo', 2, { timeoutMs: 30 });
    const later = client.request('silent', 3, { timeoutMs: 30 });
    const patient = client.request('silent', 4, { timeoutMs: 60_000, signal: controller.signal });
    expect((await answered).body).toBe(2);
    await expect(first).rejects.toBeInstanceOf(RequestTimeoutError);
    await expect(later).rejects.toBeInstanceOf(RequestTimeoutError);
    expect(router.counters().requestsTimedOut).toBe(2);
    expect(router.status().pendingRequests).toBe(1);
    controller.abort();
    await expect(patient).rejects.toBeInstanceOf(AbortedError);
    expect(router.status().pendingRequests).toBe(0);
    // After its queue emptied and went away, the same timeout works again.
    await expect(client.request('silent', 5, { timeoutMs: 10 })).rejects.toBeInstanceOf(RequestTimeoutError);
    await router.stop();
  });

  it('rejects with AbortedError when the signal aborts', async () => {
    const router = newRouter();
    router.spawn('silent', () => {});
    const controller = new AbortController();
    const pending = router.client('c').request('silent', 1, { signal: controller.signal, timeoutMs: 60_000 });
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortedError);
    const already = router.client('d').request('silent', 1, { signal: controller.signal });
    await expect(already).rejects.toBeInstanceOf(AbortedError);
  });

  it('drops a reply to an engine that vanished, and fails the requests of a stopped engine', async () => {
    const router = newRouter();
    let replyLater: (() => void) | undefined;
    router.spawn('lazy', (m, ctx) => {
      replyLater = () => ctx.reply(m, 'late');
    });
    const asker = router.client('asker');
    const pending = asker.request('lazy', 1, { timeoutMs: 60_000 });
    await expect.poll(() => replyLater !== undefined).toBe(true);
    await asker.stop();
    await expect(pending).rejects.toBeInstanceOf(AbortedError);
    replyLater?.();
    expect(router.counters().dropped['late-reply']).toBe(1);
  });

  it('treats a replyTo from the wrong engine as an ordinary message, not the reply', async () => {
    const router = newRouter();
    router.spawn('silent', () => {});
    const got: EngineMessage[] = [];
    const asker = router.client('asker', (m) => {
      got.push(m);
    });
    const impostor = router.client('impostor');
    const pending = asker.request('silent', 1, { timeoutMs: 100 });
    // The request is the router's first message (id 1): the impostor answers it in silent's place.
    const request = { id: 1, src: asker.self, dst: impostor.self, protocol: 'msg@1', body: null };
    impostor.reply(request as EngineMessage, 'forged');
    await expect(pending).rejects.toBeInstanceOf(RequestTimeoutError);
    expect(got.map((m) => m.body)).toEqual(['forged']);
  });
});
