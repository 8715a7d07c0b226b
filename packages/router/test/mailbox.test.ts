import { type EngineMessage, MailboxFullError } from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import { RingQueue } from '../src/index.js';
import { newRouter } from './helpers.js';

/** An engine that holds every message until `release` is called. */
function gated() {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const seen: unknown[] = [];
  const handler = async (m: EngineMessage) => {
    await gate;
    seen.push(m.body);
  };
  return { handler, seen, release: () => open() };
}

describe('mailbox policies', () => {
  it('reject: a full mailbox refuses, counts, emits an event, and a request fails with MailboxFullError', async () => {
    const router = newRouter();
    const events: string[] = [];
    router.onEvent((e) => events.push(e.type));
    const g = gated();
    router.spawn('busy', g.handler, { mailboxSize: 4, mailboxPolicy: 'reject' });
    const client = router.client('c');
    client.send('busy', 0);
    await expect.poll(() => router.engine('busy')?.queued).toBe(0);
    for (let i = 1; i < 10; i++) client.send('busy', i);
    // One message is in the handler, four in the mailbox; the rest were refused.
    await expect(client.request('busy', 'req')).rejects.toBeInstanceOf(MailboxFullError);
    g.release();
    await expect.poll(() => g.seen.length).toBe(5);
    expect(g.seen).toEqual([0, 1, 2, 3, 4]);
    expect(router.counters().dropped['mailbox-full']).toBe(6);
    expect(events.filter((e) => e === 'mailbox:full')).toHaveLength(6);
  });

  it('drop-oldest: keeps the newest messages and counts evictions', async () => {
    const router = newRouter();
    const g = gated();
    router.spawn('busy', g.handler, { mailboxSize: 3, mailboxPolicy: 'drop-oldest' });
    const client = router.client('c');
    client.send('busy', 0);
    await expect.poll(() => router.engine('busy')?.queued).toBe(0);
    for (let i = 1; i <= 10; i++) client.send('busy', i);
    g.release();
    await expect.poll(() => g.seen.length).toBe(4);
    expect(g.seen).toEqual([0, 8, 9, 10]);
    expect(router.counters().dropped['mailbox-evicted']).toBe(7);
  });

  it('wait: holds messages back instead of dropping them, and pauses the sending engine', async () => {
    const router = newRouter();
    const g = gated();
    router.spawn('busy', g.handler, { mailboxSize: 2, mailboxPolicy: 'wait' });
    let producerRuns = 0;
    router.spawn('producer', (_m, ctx) => {
      producerRuns++;
      ctx.send('busy', producerRuns);
      ctx.send('busy', producerRuns + 100);
    });
    const client = router.client('c');
    for (let i = 0; i < 3; i++) client.send('producer', 'go');
    // busy holds 1 in its handler + 2 queued + 1 parked; the producer's last send is parked, so it
    // stops taking work with its third 'go' still queued.
    await expect.poll(() => router.engine('busy')?.queued).toBe(3);
    // Fence: a request answered by another engine is a full turn of the engine scheduler after the
    // state above; a producer that had been let go would have run by then.
    router.spawn('echo', (m, ctx) => ctx.reply(m, m.body));
    expect((await client.request('echo', 'fence')).body).toBe('fence');
    expect(producerRuns).toBe(2);
    expect(router.engine('producer')?.queued).toBe(1);
    expect(router.counters().dropped['mailbox-full']).toBe(0);
    g.release();
    await expect.poll(() => g.seen.length).toBe(6);
    expect(g.seen.sort((a, b) => (a as number) - (b as number))).toEqual([1, 2, 3, 101, 102, 103]);
    expect(router.counters().dropped['mailbox-full']).toBe(0);
  });

  it('wait: rejects once the wait list is full too', async () => {
    const router = newRouter();
    const g = gated();
    router.spawn('busy', g.handler, { mailboxSize: 2, mailboxPolicy: 'wait' });
    const client = router.client('c');
    client.send('busy', 0);
    await expect.poll(() => router.engine('busy')?.queued).toBe(0);
    for (let i = 1; i < 10; i++) client.send('busy', i);
    // 1 in the handler, 2 queued, 2 waiting: 5 kept, 5 refused.
    g.release();
    await expect.poll(() => g.seen.length).toBe(5);
    expect(router.counters().dropped['mailbox-full']).toBe(5);
  });
});

describe('RingQueue', () => {
  it('is FIFO across growth and wrap-around, and bounded', () => {
    const q = new RingQueue<number>(100);
    const model: number[] = [];
    let next = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 7; i++) {
        const ok = q.push(next);
        if (model.length < 100) {
          expect(ok).toBe(true);
          model.push(next);
        } else expect(ok).toBe(false);
        next++;
      }
      for (let i = 0; i < 5; i++) expect(q.shift()).toBe(model.shift());
      expect(q.length).toBe(model.length);
    }
    expect(q.drain()).toEqual(model);
    expect(q.shift()).toBeUndefined();
    expect(() => new RingQueue(0)).toThrow(RangeError);
  });
});
