import { afterEach, describe, expect, it } from 'vitest';
import type { PubSubEvent } from '../src/index.js';
import { range, recorder, TestNetwork, type TestNode } from './network.js';

describe('one publisher node, three subscriber nodes', () => {
  let net: TestNetwork;
  afterEach(async () => {
    await net.stop();
  });

  async function setup(): Promise<{ pub: TestNode; subs: TestNode[] }> {
    net = new TestNetwork();
    const pub = await net.add();
    const subs = [await net.add(), await net.add(), await net.add()];
    for (const sub of subs) net.connect(pub, sub);
    return { pub, subs };
  }

  it('delivers every event, in order, to every subscriber; one entry per subscriber node', async () => {
    const { pub, subs } = await setup();
    const publisher = pub.router.client('ticker');
    const { topic } = pub.pubsub.createTopic({ publisher: 'ticker', tags: ['prices'] });
    const receivers = subs.map((sub, i) => recorder(sub, `reader-${i}`));
    // Two local subscribers on one node still make one subscriber entry on the publisher.
    const second = recorder(subs[2] as TestNode, 'reader-2b');
    for (const r of [...receivers, second]) r.engine.subscribe(topic);
    await Promise.all(subs.map((sub) => sub.pubsub.whenSubscribed(topic, { timeoutMs: 10_000 })));
    expect(pub.pubsub.subscriberNodes(topic).sort()).toEqual(subs.map((s) => s.node).sort());

    const gaps: PubSubEvent[] = [];
    for (const sub of subs) sub.pubsub.onEvent((e) => e.type === 'topic:gap' && gaps.push(e));
    const count = 2000;
    // Bursts that fit the window plus queue (256 + 1024); between bursts the queues drain.
    for (let i = 1; i <= count; i++) {
      publisher.publish(topic, i, { protocol: 'tick@1' });
      if (i % 500 === 0) {
        await expect
          .poll(() => subs.every((s) => pub.pubsub.subscriberBacklog(s.node)?.queued === 0), {
            message: 'drain',
          })
          .toBe(true);
      }
    }
    await expect
      .poll(() => [...receivers, second].every((r) => r.received.length === count), { message: 'all events' })
      .toBe(true);
    for (const r of [...receivers, second]) expect(r.received).toEqual(range(1, count));
    expect(gaps).toEqual([]);
    expect(pub.pubsub.counters().published).toBe(count);
    expect(pub.pubsub.counters().eventsSent).toBe(3 * count);
    expect(subs.map((s) => s.pubsub.counters().eventsDelivered)).toEqual([count, count, 2 * count]);
    for (const sub of subs) expect(sub.pubsub.counters().dropped.duplicate).toBe(0);
    expect(pub.pubsub.counters().dropped['queue-overflow']).toBe(0);
    // Nobody asked for signatures: direct links are authenticated, so none were made.
    expect(pub.pubsub.counters().eventsSigned).toBe(0);
    // Acknowledgements drained every window.
    await expect
      .poll(() => subs.every((s) => pub.pubsub.subscriberBacklog(s.node)?.inFlight === 0), {
        message: 'acks',
      })
      .toBe(true);
  });

  it('subscribes as soon as the advert arrives when a local engine subscribed first', async () => {
    net = new TestNetwork();
    const pub = await net.add();
    const sub = await net.add();
    const { topic } = pub.pubsub.createTopic({ publisher: 'ticker' });
    const r = recorder(sub, 'early');
    r.engine.subscribe(topic);
    expect(sub.pubsub.subscriptionState(topic)).toBe('awaiting-advert');
    net.connect(pub, sub); // the advert is offered on connect
    await sub.pubsub.whenSubscribed(topic, { timeoutMs: 10_000 });
    pub.router.client('ticker').publish(topic, 'hello');
    await expect.poll(() => r.received.length, { message: 'event' }).toBe(1);
    expect(r.received).toEqual(['hello']);
  });

  it('unsubscribe stops delivery; the remote entry goes only with the last local subscriber', async () => {
    const { pub, subs } = await setup();
    const [s0, s1] = subs as [TestNode, TestNode, TestNode];
    const publisher = pub.router.client('ticker');
    const { topic } = pub.pubsub.createTopic({ publisher: 'ticker' });
    const a = recorder(s0, 'a');
    const b = recorder(s0, 'b');
    const other = recorder(s1, 'other');
    for (const r of [a, b, other]) r.engine.subscribe(topic);
    await Promise.all([s0.pubsub.whenSubscribed(topic), s1.pubsub.whenSubscribed(topic)]);

    publisher.publish(topic, 1);
    await expect
      .poll(() => a.received.length === 1 && b.received.length === 1 && other.received.length === 1)
      .toBe(true);

    a.engine.unsubscribe(topic);
    publisher.publish(topic, 2);
    await expect.poll(() => b.received.length === 2 && other.received.length === 2).toBe(true);
    expect(pub.pubsub.subscriberNodes(topic)).toContain(s0.node);
    expect(a.received).toEqual([1]);

    b.engine.unsubscribe(topic);
    await expect
      .poll(() => pub.pubsub.subscriberNodes(topic).includes(s0.node), { message: 'remote unsubscribe' })
      .toBe(false);
    expect(s0.pubsub.subscriptionState(topic)).toBeUndefined();
    publisher.publish(topic, 3);
    await expect.poll(() => other.received.length).toBe(3);
    // The last event went to s1 only: s0 was never sent it.
    expect(pub.pubsub.counters().eventsSent).toBe(2 + 2 + 1);
    expect(a.received).toEqual([1]);
    expect(b.received).toEqual([1, 2]);
    expect(s0.pubsub.counters().dropped['not-subscribed']).toBe(0);
  });

  it('keeps the publisher’s own node on local multicast only', async () => {
    const { pub } = await setup();
    const { topic } = pub.pubsub.createTopic({ publisher: 'ticker' });
    const local = recorder(pub, 'local-reader');
    local.engine.subscribe(topic);
    await pub.pubsub.whenSubscribed(topic);
    expect(pub.pubsub.subscriptionState(topic)).toBe('local');
    pub.router.client('ticker').publish(topic, 'x');
    await expect.poll(() => local.received.length).toBe(1);
    expect(pub.pubsub.counters().eventsSent).toBe(0);
  });
});
