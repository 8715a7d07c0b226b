import { afterEach, describe, expect, it } from 'vitest';
import type { PubSubEvent } from '../src/index.js';
import { range, recorder, TestNetwork, type TestNode } from './network.js';

type Gap = Extract<PubSubEvent, { type: 'topic:gap' }>;

describe('connection loss and re-subscription', () => {
  let net: TestNetwork;
  afterEach(async () => {
    await net.stop();
  });

  it('re-subscribes after a reconnect and reports the events missed meanwhile as a gap', async () => {
    net = new TestNetwork();
    const pub = await net.add();
    const subs = [await net.add(), await net.add(), await net.add()];
    for (const sub of subs) net.connect(pub, sub);
    const [flaky] = subs as [TestNode, TestNode, TestNode];
    const { topic } = pub.pubsub.createTopic({ publisher: 'ticker' });
    const readers = subs.map((sub, i) => recorder(sub, `reader-${i}`));
    for (const r of readers) r.engine.subscribe(topic);
    await Promise.all(subs.map((s) => s.pubsub.whenSubscribed(topic)));
    const gaps: Gap[] = [];
    const resubscribed: PubSubEvent[] = [];
    flaky.pubsub.onEvent((e) => {
      if (e.type === 'topic:gap') gaps.push(e);
      if (e.type === 'topic:subscribed' && e.resubscribe) resubscribed.push(e);
    });
    const publisher = pub.router.client('ticker');
    const [flakyReader, steadyReader] = readers as [(typeof readers)[0], (typeof readers)[0]];

    for (let i = 1; i <= 10; i++) publisher.publish(topic, i);
    await expect.poll(() => flakyReader.received.length, { message: 'first events' }).toBe(10);

    net.cut(pub, flaky);
    expect(flaky.pubsub.subscriptionState(topic)).toBe('disconnected');
    await expect
      .poll(() => pub.pubsub.subscriberNodes(topic).includes(flaky.node), {
        message: 'publisher forgets the node',
      })
      .toBe(false);
    for (let i = 11; i <= 25; i++) publisher.publish(topic, i);
    await expect
      .poll(() => steadyReader.received.length, { message: 'steady subscriber keeps receiving' })
      .toBe(25);

    net.connect(pub, flaky);
    await expect.poll(() => resubscribed.length, { message: 're-subscribed' }).toBeGreaterThanOrEqual(1);
    expect(flaky.pubsub.subscriptionState(topic)).toBe('subscribed');
    expect(flaky.pubsub.counters().resubscribes).toBeGreaterThanOrEqual(1);
    // The gap is known as soon as the publisher answers, before any new event.
    expect(gaps.map(({ from, to }) => [from, to])).toEqual([[11, 25]]);
    expect(flaky.pubsub.counters().missedEvents).toBe(15);

    for (let i = 26; i <= 30; i++) publisher.publish(topic, i);
    await expect
      .poll(() => readers.every((r) => r.received.length === (r === flakyReader ? 15 : 30)), {
        message: 'after',
      })
      .toBe(true);
    expect(flakyReader.received).toEqual([...range(1, 10), ...range(26, 30)]);
    expect(steadyReader.received).toEqual(range(1, 30));
    expect(gaps).toHaveLength(1);
  });

  it('re-subscribes idempotently when the publisher never noticed the connection drop', async () => {
    net = new TestNetwork();
    const pub = await net.add();
    const sub = await net.add();
    net.connect(pub, sub);
    const { topic } = pub.pubsub.createTopic({ publisher: 'ticker' });
    const r = recorder(sub, 'reader');
    r.engine.subscribe(topic);
    await sub.pubsub.whenSubscribed(topic);
    // Only the subscriber hears of a disconnect and reconnect (a flap the publisher missed).
    sub.pubsub.onPeerDisconnected(pub.node);
    sub.pubsub.onPeerConnected(pub.node);
    await expect
      .poll(() => sub.pubsub.subscriptionState(topic), { message: 're-subscribed' })
      .toBe('subscribed');
    expect(pub.pubsub.subscriberNodes(topic)).toEqual([sub.node]);
    expect(pub.pubsub.counters().subscribersAdded).toBe(1);
    const ticker = pub.router.client('ticker');
    ticker.publish(topic, 'once');
    // Fence: the next event travels the same in-order link; a second copy of 'once' would come first.
    ticker.publish(topic, 'fence');
    await expect.poll(() => r.received.includes('fence')).toBe(true);
    expect(r.received).toEqual(['once', 'fence']);
  });

  it('re-subscribes on its own when no reconnect is reported (an idle connection closed)', async () => {
    net = new TestNetwork();
    const pub = await net.add();
    const sub = await net.add({ retryMinMs: 20, retryMaxMs: 100 });
    net.connect(pub, sub);
    const { topic } = pub.pubsub.createTopic({ publisher: 'ticker' });
    const r = recorder(sub, 'reader');
    r.engine.subscribe(topic);
    await sub.pubsub.whenSubscribed(topic);
    const ticker = pub.router.client('ticker');
    ticker.publish(topic, 1);
    await expect.poll(() => r.received.length).toBe(1);
    net.cut(pub, sub);
    ticker.publish(topic, 2);
    // The transport would re-open the connection for the next message; nobody says "connected".
    net.connect(pub, sub, false);
    await expect
      .poll(() => pub.pubsub.subscriberNodes(topic).includes(sub.node), {
        message: 're-subscribed by the retry',
      })
      .toBe(true);
    ticker.publish(topic, 3);
    await expect.poll(() => r.received.length).toBe(2);
    expect(r.received).toEqual([1, 3]);
    expect(sub.pubsub.counters().missedEvents).toBe(1);
  });

  it('gives a restarted subscriber node the events again, with the gap it missed', async () => {
    net = new TestNetwork();
    const pub = await net.add();
    const first = await net.add();
    net.connect(pub, first);
    const { topic } = pub.pubsub.createTopic({ publisher: 'ticker' });
    const before = recorder(first, 'reader');
    before.engine.subscribe(topic);
    await first.pubsub.whenSubscribed(topic);
    const publisher = pub.router.client('ticker');
    for (let i = 1; i <= 5; i++) publisher.publish(topic, i);
    await expect.poll(() => before.received.length).toBe(5);

    await net.remove(first); // the node crashes
    for (let i = 6; i <= 9; i++) publisher.publish(topic, i);

    const again = await net.add({}, first.key); // same identity, fresh memory
    const gaps: Gap[] = [];
    again.pubsub.onEvent((e) => e.type === 'topic:gap' && gaps.push(e));
    const after = recorder(again, 'reader');
    after.engine.subscribe(topic);
    net.connect(pub, again);
    await again.pubsub.whenSubscribed(topic, { timeoutMs: 10_000 });
    expect(gaps.map(({ from, to }) => [from, to])).toEqual([[6, 9]]);
    publisher.publish(topic, 10);
    await expect.poll(() => after.received.length).toBe(1);
    expect(after.received).toEqual([10]);
  });

  it('starts counting again when the publisher node restarts, instead of dropping its events', async () => {
    net = new TestNetwork();
    const pub = await net.add();
    const sub = await net.add();
    net.connect(pub, sub);
    const created = pub.pubsub.createTopic({ publisher: 'ticker' });
    const r = recorder(sub, 'reader');
    r.engine.subscribe(created.topic);
    await sub.pubsub.whenSubscribed(created.topic);
    const ticker = pub.router.client('ticker');
    for (let i = 1; i <= 3; i++) ticker.publish(created.topic, i);
    await expect.poll(() => r.received.length).toBe(3);

    const restarts: PubSubEvent[] = [];
    sub.pubsub.onEvent((e) => e.type === 'publisher:restarted' && restarts.push(e));
    await net.remove(pub);
    const pub2 = await net.add({}, pub.key);
    pub2.pubsub.createTopic({ topicKey: created.topicKey, publisher: 'ticker' });
    net.connect(pub2, sub);
    await expect
      .poll(() => sub.pubsub.subscriptionState(created.topic), { message: 're-subscribed' })
      .toBe('subscribed');
    pub2.router.client('ticker').publish(created.topic, 'new session');
    await expect.poll(() => r.received.length, { message: 'event of the new session' }).toBe(4);
    expect(r.received).toEqual([1, 2, 3, 'new session']);
    expect(restarts).toHaveLength(1);
    expect(sub.pubsub.counters().dropped.duplicate).toBe(0);
  });
});
