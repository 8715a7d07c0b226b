import { afterEach, describe, expect, it } from 'vitest';
import type { PubSubEvent } from '../src/index.js';
import { range, recorder, TestNetwork, type TestNode } from './network.js';

describe('a slow subscriber node', () => {
  let net: TestNetwork;
  afterEach(async () => {
    await net.stop();
  });

  it('cannot grow the publisher’s memory: bounded window and queue, oldest evicted, counted, reported', async () => {
    net = new TestNetwork();
    const window = 8;
    const queueSize = 16;
    const pub = await net.add({ window, queueSize });
    const subs = [await net.add(), await net.add(), await net.add()];
    for (const sub of subs) net.connect(pub, sub);
    const [slow, ...fast] = subs as [TestNode, TestNode, TestNode];
    const { topic } = pub.pubsub.createTopic({ publisher: 'ticker' });
    const readers = subs.map((sub, i) => recorder(sub, `reader-${i}`));
    for (const r of readers) r.engine.subscribe(topic);
    await Promise.all(subs.map((s) => s.pubsub.whenSubscribed(topic)));
    const overflows: PubSubEvent[] = [];
    pub.pubsub.onEvent((e) => e.type === 'queue:overflow' && overflows.push(e));
    const gaps: PubSubEvent[] = [];
    slow.pubsub.onEvent((e) => e.type === 'topic:gap' && gaps.push(e));

    net.hold(slow); // nothing reaches it, so it acknowledges nothing
    const publisher = pub.router.client('ticker');
    const total = 1000;
    let maxBacklog = 0;
    for (let i = 1; i <= total; i++) {
      publisher.publish(topic, i);
      const backlog = pub.pubsub.subscriberBacklog(slow.node);
      maxBacklog = Math.max(maxBacklog, (backlog?.inFlight ?? 0) + (backlog?.queued ?? 0));
      // The fast subscribers keep up: bursts fit their window and queue, and they drain between.
      if (i % queueSize === 0) {
        await expect
          .poll(() => fast.every((s) => pub.pubsub.subscriberBacklog(s.node)?.queued === 0), {
            message: 'drain',
          })
          .toBe(true);
      }
    }
    expect(maxBacklog).toBeLessThanOrEqual(window + queueSize);
    expect(pub.pubsub.subscriberBacklog(slow.node)).toEqual({ inFlight: window, queued: queueSize });
    const evicted = total - window - queueSize;
    expect(pub.pubsub.counters().dropped['queue-overflow']).toBe(evicted);
    expect(overflows).toHaveLength(evicted);
    // What the slow node was actually sent: a window's worth, in fewer messages than events (a
    // turn's events travel together).
    expect(net.heldCount(slow)).toBeGreaterThan(0);
    expect(net.heldCount(slow)).toBeLessThanOrEqual(window);

    const [slowReader, ...fastReaders] = readers as [(typeof readers)[0], ...(typeof readers)[0][]];
    await expect
      .poll(() => fastReaders.every((r) => r.received.length === total), {
        message: 'fast subscribers get everything',
      })
      .toBe(true);
    for (const r of fastReaders) expect(r.received).toEqual(range(1, total));
    expect(pub.pubsub.counters().eventsSent).toBe(2 * total + window);

    net.release(slow);
    await expect
      .poll(() => slowReader.received.length === window + queueSize, {
        message: 'slow subscriber catches up',
      })
      .toBe(true);
    expect(slowReader.received).toEqual([...range(1, window), ...range(total - queueSize + 1, total)]);
    expect(gaps).toEqual([
      {
        type: 'topic:gap',
        topic,
        publisher: { node: pub.node, name: 'ticker' },
        from: window + 1,
        to: total - queueSize,
      },
    ]);
    expect(slow.pubsub.counters().missedEvents).toBe(evicted);
    await expect
      .poll(() => pub.pubsub.subscriberBacklog(slow.node)?.inFlight, { message: 'acknowledged' })
      .toBe(0);
  });

  it('drops what was queued for a node that disconnects, and counts it', async () => {
    net = new TestNetwork();
    const pub = await net.add({ window: 4, queueSize: 100 });
    const sub = await net.add();
    net.connect(pub, sub);
    const { topic } = pub.pubsub.createTopic({ publisher: 'ticker' });
    recorder(sub, 'reader').engine.subscribe(topic);
    await sub.pubsub.whenSubscribed(topic);
    net.hold(sub);
    const publisher = pub.router.client('ticker');
    for (let i = 1; i <= 50; i++) publisher.publish(topic, i);
    // The turn ends: the window's 4 events leave as one message (and are lost with the link).
    await expect.poll(() => net.heldCount(sub)).toBe(1);
    expect(pub.pubsub.subscriberBacklog(sub.node)).toEqual({ inFlight: 4, queued: 46 });
    net.cut(pub, sub);
    expect(pub.pubsub.subscriberBacklog(sub.node)).toBeUndefined();
    expect(pub.pubsub.counters().dropped.disconnected).toBe(46);
    net.release(sub);
  });

  it('a subscribing engine with a small mailbox loses nothing: events wait for room, acknowledged only once taken', async () => {
    net = new TestNetwork();
    const pub = await net.add();
    const sub = await net.add();
    net.connect(pub, sub);
    const { topic } = pub.pubsub.createTopic({ publisher: 'ticker' });
    // A mailbox of 16 against runs of up to 256 events and a window of 1,024: without the hold the
    // subscriber node acknowledged each run on arrival and the mailbox refused most of it.
    const received: unknown[] = [];
    const reader = sub.router.client(
      'reader',
      (m) => {
        received.push(m.body);
      },
      { mailboxSize: 16 },
    );
    reader.subscribe(topic);
    await sub.pubsub.whenSubscribed(topic);
    const publisher = pub.router.client('ticker');
    const total = 3000;
    // The publisher keeps to its queue, as a publisher that must not lose events does (the window
    // closes while the reader is behind, so the publisher's queue is what grows).
    for (let i = 1; i <= total; i++) {
      publisher.publish(topic, i);
      if ((pub.pubsub.subscriberBacklog(sub.node)?.queued ?? 0) >= 512) {
        await expect.poll(() => pub.pubsub.subscriberBacklog(sub.node)?.queued ?? 0).toBeLessThanOrEqual(128);
      }
    }
    await expect.poll(() => received.length).toBe(total);
    expect(received).toEqual(range(1, total));
    expect(sub.router.counters().dropped['mailbox-full']).toBe(0);
    expect(sub.pubsub.counters().missedEvents).toBe(0);
    expect(pub.pubsub.counters().dropped['queue-overflow']).toBe(0);
  });
});
