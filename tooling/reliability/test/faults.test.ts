import { ConnectionClosedError, RequestTimeoutError } from '@netmachine/core';
import { PUBSUB_DEFAULTS } from '@netmachine/pubsub';
import { MemoryNetwork, memory } from '@netmachine/transport';
import { FaultController, faulty } from '@netmachine/transport/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Rng } from './fuzz-frames.js';

import { link, type WiredNode, wiredNode } from './wired-node.js';

/**
 * Two nodes over the memory transport, each wrapped in faulty() with its own controller, so a test
 * can spoil one direction. Pings are fast so that a black hole is noticed within the test.
 */
interface Pair {
  a: WiredNode;
  b: WiredNode;
  faultsA: FaultController;
  faultsB: FaultController;
  /** Bodies received by b's `sink`, in arrival order. */
  sink: unknown[];
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function pair(seed: number, fastPings = true): Promise<Pair> {
  const network = new MemoryNetwork();
  const rng = new Rng(seed);
  const faultsA = new FaultController({}, () => rng.next());
  const faultsB = new FaultController({}, () => rng.next());
  const limits = fastPings ? { pingIntervalMs: 300, pingTimeoutMs: 1_500 } : {};
  const a = await wiredNode(
    {},
    { transports: [faulty(memory({ network }), faultsA)], listen: ['memory://0'], limits },
  );
  const b = await wiredNode(
    {},
    { transports: [faulty(memory({ network }), faultsB)], listen: ['memory://0'], limits },
  );
  stops.push(
    () => a.stop(),
    () => b.stop(),
  );
  const sink: unknown[] = [];
  b.router.spawn(
    'sink',
    (m) => {
      sink.push(m.body);
    },
    { mailboxSize: 65_536 },
  );
  b.router.spawn('echo', (m, ctx) => ctx.reply(m, m.body));
  await link(a, b);
  return { a, b, faultsA, faultsB, sink };
}

/** How many times each value occurs. */
function multiplicity(values: unknown[]): Map<unknown, number> {
  const counts = new Map<unknown, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

async function sendNumbered(p: Pair, from: number, count: number): Promise<void> {
  const client = p.a.router.client(`sender-${from}`);
  for (let i = from; i < from + count; i++) {
    client.send({ node: p.b.id, name: 'sink' }, i, { ttlMs: 60_000 });
    // Several ticks, so that messages travel in several writes (faults act per write).
    if (i % 5 === 4) await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Sends a marker after the numbered messages and waits for it: everything before it has arrived or is lost. */
async function flush(p: Pair, marker: string): Promise<void> {
  const client = p.a.router.client(`flusher-${marker}`);
  await vi.waitFor(
    () => {
      if (p.sink.includes(marker)) return;
      client.send({ node: p.b.id, name: 'sink' }, marker, { ttlMs: 60_000 });
      throw new Error(`marker ${marker} not arrived yet`);
    },
    { timeout: 90_000, interval: 25 },
  );
}

describe('faults injected with faulty() around the memory transport', () => {
  it('drop: lost writes lose messages, never duplicate or reorder them; requests time out with a typed error', async () => {
    const p = await pair(1);
    p.faultsA.knobs = { drop: 0.3 };
    await sendNumbered(p, 0, 500);
    await flush(p, 'drop-done');
    const numbers = p.sink.filter((x): x is number => typeof x === 'number');
    p.faultsA.knobs = { drop: 1 };
    const lost = p.a.router.client('asker').request({ node: p.b.id, name: 'echo' }, 'q', { timeoutMs: 500 });
    await expect(lost).rejects.toBeInstanceOf(RequestTimeoutError);
    p.faultsA.knobs = {};
    // After the drops the link may have been closed for missed pings; the request re-opens it.
    await expect
      .poll(() => p.a.transport.connectedNodes().includes(p.b.id), { message: 'the link' })
      .toBe(true);
    const reply = await p.a.router
      .client('asker2')
      .request({ node: p.b.id, name: 'echo' }, 'q', { timeoutMs: 30_000 });
    console.log(
      JSON.stringify({ fault: 'drop', sent: 500, delivered: numbers.length, counts: p.faultsA.counts }),
    );
    expect(reply.body).toBe('q');
    expect(p.faultsA.counts.dropped).toBeGreaterThan(0);
    expect(numbers.length).toBeLessThan(500);
    expect(numbers.length).toBeGreaterThan(0);
    expect([...numbers].sort((x, y) => x - y)).toEqual(numbers); // in order
    expect(new Set(numbers).size).toBe(numbers.length); // once
  });

  it('delay: everything arrives, in order; a request shorter than the delay times out with a typed error', async () => {
    const p = await pair(2);
    p.faultsA.knobs = { delayMs: 100 };
    await sendNumbered(p, 0, 300);
    await flush(p, 'delay-done');
    p.faultsA.knobs = { delayMs: 3_000 };
    const late = p.a.router.client('asker').request({ node: p.b.id, name: 'echo' }, 'q', { timeoutMs: 200 });
    await expect(late).rejects.toBeInstanceOf(RequestTimeoutError);
    p.faultsA.knobs = {};
    const numbers = p.sink.filter((x): x is number => typeof x === 'number');
    console.log(
      JSON.stringify({ fault: 'delay', sent: 300, delivered: numbers.length, counts: p.faultsA.counts }),
    );
    expect(numbers).toEqual([...Array(300).keys()]);
  });

  // A duplicated write carries messages the connection has delivered already: each is recognised by
  // its id (the session's replay window) and dropped, so every message arrives exactly once.
  it('duplicate: a write sent twice delivers each message exactly once (duplicates counted)', async () => {
    const p = await pair(3);
    p.faultsA.knobs = { duplicate: 0.5 };
    await sendNumbered(p, 0, 300);
    p.faultsA.knobs = {};
    await flush(p, 'dup-done');
    const numbers = p.sink.filter((x): x is number => typeof x === 'number');
    const twice = [...multiplicity(numbers)].filter(([, n]) => n > 1).map(([v]) => v);
    console.log(
      JSON.stringify({
        fault: 'duplicate',
        sent: 300,
        delivered: numbers.length,
        deliveredTwice: twice.length,
        counts: p.faultsA.counts,
      }),
    );
    expect(p.faultsA.counts.duplicated).toBeGreaterThan(0);
    expect(twice).toEqual([]);
    expect([...numbers].sort((x, y) => x - y)).toEqual([...Array(300).keys()]);
    expect(p.b.transport.counters().duplicatesDropped).toBeGreaterThan(0);
  });

  it('reorder: writes swapped on the way; every message still arrives exactly once', async () => {
    const p = await pair(4);
    p.faultsA.knobs = { reorder: 0.3 };
    await sendNumbered(p, 0, 300);
    p.faultsA.knobs = {};
    await flush(p, 'reorder-done');
    const numbers = p.sink.filter((x): x is number => typeof x === 'number');
    const inOrder = numbers.every((v, i) => i === 0 || v > (numbers[i - 1] as number));
    console.log(
      JSON.stringify({
        fault: 'reorder',
        sent: 300,
        delivered: numbers.length,
        inOrder,
        counts: p.faultsA.counts,
      }),
    );
    expect(p.faultsA.counts.reordered).toBeGreaterThan(0);
    expect([...numbers].sort((x, y) => x - y)).toEqual([...Array(300).keys()]);
  });

  it('reset: the permanent link comes back; requests in flight fail with the connection error, later ones succeed', async () => {
    const p = await pair(5);
    const asker = p.a.router.client('asker');
    await asker.request({ node: p.b.id, name: 'echo' }, 'before', { timeoutMs: 30_000 });
    let disconnects = 0;
    p.a.transport.events.on('peer:disconnected', () => disconnects++);
    // b answers only when told to: the request has arrived and its reply is still to come when the link
    // is cut. The timeout is far away, so only the reset can make the request fail.
    let handled = 0;
    let answer: () => void = () => {};
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    p.b.router.spawn('held-echo', async (m, ctx) => {
      handled++;
      await answered;
      ctx.reply(m, m.body);
    });
    // The handler is attached at once: the request fails while the test is still waiting for the reset.
    const inFlight = asker
      .request({ node: p.b.id, name: 'held-echo' }, 'in flight', { timeoutMs: 60_000 })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    await expect.poll(() => handled, { message: 'b to take the request' }).toBe(1);
    p.faultsA.resetAll();
    await expect.poll(() => disconnects, { message: 'a to see the reset' }).toBe(1);
    answer();
    const failure = await inFlight;
    expect(failure).toBeInstanceOf(ConnectionClosedError);
    await expect
      .poll(() => disconnects > 0 && p.a.transport.connectedNodes().includes(p.b.id), {
        message: 'the link to come back',
      })
      .toBe(true);
    const reply = await asker.request({ node: p.b.id, name: 'echo' }, 'after', { timeoutMs: 30_000 });
    console.log(
      JSON.stringify({ fault: 'reset', inFlight: String(failure), disconnects, counts: p.faultsA.counts }),
    );
    expect(reply.body).toBe('after');
  });

  it('blackhole: requests time out, missed pings close the link, and it comes back when the hole closes', async () => {
    const p = await pair(6);
    const asker = p.a.router.client('asker');
    await asker.request({ node: p.b.id, name: 'echo' }, 'before', { timeoutMs: 30_000 });
    const down = p.a.transport.events.once('peer:disconnected', (e) => e.node === p.b.id);
    p.faultsA.knobs = { blackhole: true };
    p.faultsB.knobs = { blackhole: true };
    await expect(
      asker.request({ node: p.b.id, name: 'echo' }, 'lost', { timeoutMs: 500 }),
    ).rejects.toBeInstanceOf(RequestTimeoutError);
    const event = await down;
    p.faultsA.knobs = {};
    p.faultsB.knobs = {};
    await expect
      .poll(() => p.a.transport.connectedNodes().includes(p.b.id), { message: 'the link to come back' })
      .toBe(true);
    const reply = await asker.request({ node: p.b.id, name: 'echo' }, 'after', { timeoutMs: 30_000 });
    console.log(
      JSON.stringify({ fault: 'blackhole', closedWith: String(event.error), counts: p.faultsA.counts }),
    );
    expect(event.error).toBeInstanceOf(ConnectionClosedError);
    expect(reply.body).toBe('after');
  });

  it('pub/sub: events lost to dropped writes are reported as gaps, and none is delivered twice', async () => {
    const p = await pair(7);
    const { topic } = p.a.pubsub.createTopic({ publisher: 'ticker' });
    await expect
      .poll(() => p.b.router.topicPublisher(topic) !== undefined, { message: 'the topic advert' })
      .toBe(true);
    const got: number[] = [];
    p.b.router
      .client('reader', (m) => {
        got.push(m.body as number);
      })
      .subscribe(topic);
    await p.b.pubsub.whenSubscribed(topic);
    const ticker = p.a.router.client('ticker');
    const total = 400;
    p.faultsA.knobs = { drop: 0.2 };
    for (let seq = 1; seq <= total; seq++) {
      ticker.publish(topic, seq);
      if (seq % 4 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    p.faultsA.knobs = {};
    // A last event, published until it arrives, reveals any gap at the end.
    let last = total;
    await vi.waitFor(
      () => {
        if (got.includes(last)) return;
        ticker.publish(topic, ++last);
        throw new Error('the closing event has not arrived yet');
      },
      { timeout: 90_000, interval: 25 },
    );
    const c = p.b.pubsub.counters();
    console.log(
      JSON.stringify({
        fault: 'pubsub-drop',
        published: last,
        delivered: got.length,
        gaps: c.gaps,
        missed: c.missedEvents,
        counts: p.faultsA.counts,
      }),
    );
    expect(p.faultsA.counts.dropped).toBeGreaterThan(0);
    expect(new Set(got).size).toBe(got.length);
    expect(c.gaps).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(last);
    // Every event is accounted for: delivered, or reported missing in a gap.
    expect(got.length + c.missedEvents).toBe(last);
  });
});

describe('a receiver that stops reading', () => {
  it('a subscriber node that stops acknowledging costs the publisher a bounded backlog; overflow is counted', async () => {
    const p = await pair(8, false);
    const { topic } = p.a.pubsub.createTopic({ publisher: 'ticker' });
    await expect
      .poll(() => p.b.router.topicPublisher(topic) !== undefined, { message: 'the topic advert' })
      .toBe(true);
    const got: number[] = [];
    p.b.router
      .client('reader', (m) => {
        got.push(m.body as number);
      })
      .subscribe(topic);
    await p.b.pubsub.whenSubscribed(topic);
    // The subscriber still receives, but nothing it writes (acknowledgements) reaches the publisher.
    p.faultsB.knobs = { drop: 1 };
    const ticker = p.a.router.client('ticker');
    const total = 5_000;
    for (let seq = 1; seq <= total; seq++) ticker.publish(topic, seq);
    await expect
      .poll(() => p.a.pubsub.counters().dropped['queue-overflow'], { message: 'the overflow' })
      .toBeGreaterThan(0);
    const backlog = p.a.pubsub.subscriberBacklog(p.b.id);
    const c = p.a.pubsub.counters();
    console.log(
      JSON.stringify({
        case: 'slow-subscriber',
        published: total,
        backlog,
        queueOverflow: c.dropped['queue-overflow'],
        deliveredSoFar: got.length,
      }),
    );
    expect(backlog).toBeDefined();
    const { window, queueSize } = PUBSUB_DEFAULTS;
    expect(backlog?.inFlight).toBeLessThanOrEqual(window);
    expect(backlog?.queued).toBeLessThanOrEqual(queueSize);
    expect(c.dropped['queue-overflow']).toBeGreaterThanOrEqual(total - window - queueSize);
    p.faultsB.knobs = {};
  });

  it('an engine that stops taking messages: the receiver holds a bounded amount, the sender is slowed, nothing is lost unaccounted', async () => {
    const p = await pair(9, false);
    let release: () => void = () => {};
    const stuck = new Promise<void>((resolve) => {
      release = resolve;
    });
    let handled = 0;
    let fenced = false;
    const ref = p.b.router.spawn(
      'stuck',
      async (m) => {
        if (m.body === 'fence') {
          fenced = true;
          return;
        }
        handled++;
        await stuck;
      },
      { mailboxSize: 100 },
    );
    const sender = p.a.router.client('flooder');
    const total = 5_000;
    for (let i = 0; i < total; i++) {
      sender.send({ node: p.b.id, name: 'stuck' }, i, { ttlMs: 120_000 });
      if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
    }
    // The receiver parks what its engine cannot take and stops reading from the sender (flow
    // control); the sender's bounded per-node queue then fills, and what does not fit is refused there.
    const refused = (): number => p.a.transport.counters().dropped['queue-full'];
    await expect
      .poll(() => refused(), { message: 'the sender to be slowed down to its queue bound' })
      .toBeGreaterThan(0);
    const queuedAtReceiver = ref.queued;
    const receiver = p.b.transport.counters();
    console.log(
      JSON.stringify({
        case: 'stuck-engine',
        sent: total,
        queuedAtReceiver,
        handled,
        readPauses: receiver.readPauses,
        senderQueued: p.a.transport.counters().queuedTotal,
        refusedAtSender: refused(),
        droppedAtReceiver: p.b.router.counters().dropped['mailbox-full'],
      }),
    );
    expect(queuedAtReceiver).toBeLessThanOrEqual(200); // mailbox + its wait list
    expect(receiver.readPauses).toBeGreaterThan(0);
    expect(p.b.router.counters().dropped['mailbox-full']).toBe(0);
    expect(p.a.transport.counters().queuedTotal).toBeLessThanOrEqual(1024);
    release();
    // Every message is either handled once or was refused, counted, at the sender.
    await expect
      .poll(() => handled + refused(), { message: 'the backlog to drain' })
      .toBeGreaterThanOrEqual(total);
    // Fence: sent after the flood on the same in-order link, to the same mailbox; once it is handled,
    // any duplicate of a flood message would have been handled too.
    sender.send({ node: p.b.id, name: 'stuck' }, 'fence', { ttlMs: 120_000 });
    await expect.poll(() => fenced, { message: 'the fence' }).toBe(true);
    expect(handled + refused()).toBe(total);
  });
});
