import { type EngineMessage, UnauthorizedPublisherError } from '@netmachine/core';
import { afterEach, describe, expect, it } from 'vitest';
import { PubSubProtocol, SubscribeStatus, SubscriptionDeniedError } from '../src/index.js';
import { recorder, TestNetwork } from './network.js';

describe('topic adverts and subscriptions over time', () => {
  let net: TestNetwork;
  afterEach(async () => {
    await net.stop();
  });

  it('follows a re-issued advert to the new publisher node; a stale advert is denied there', async () => {
    net = new TestNetwork();
    const creator = await net.add();
    const [a, d, sub, late] = [await net.add(), await net.add(), await net.add(), await net.add()];
    for (const n of [a, d, sub]) net.connect(creator, n);
    net.connect(a, sub);
    net.connect(d, sub);
    net.connect(a, late);
    // The creator authorizes an engine on another node.
    const first = creator.pubsub.createTopic({ publisher: { node: a.node, name: 'pub' } });
    const { topic } = first;
    await expect
      .poll(() => sub.pubsub.topicAdvert(topic) !== undefined && a.pubsub.topicAdvert(topic) !== undefined)
      .toBe(true);
    const reader = recorder(sub, 'reader');
    reader.engine.subscribe(topic);
    await sub.pubsub.whenSubscribed(topic);
    expect(a.pubsub.subscriberNodes(topic)).toEqual([sub.node]);
    const fromA = a.router.client('pub');
    fromA.publish(topic, 'from a');
    await expect.poll(() => reader.received.length).toBe(1);

    // A new advert moves the topic to d: the subscriber follows, a loses the right to publish.
    creator.pubsub.createTopic({ topicKey: first.topicKey, publisher: { node: d.node, name: 'pub' } });
    await expect
      .poll(() => d.pubsub.subscriberNodes(topic).includes(sub.node), { message: 'subscribed at d' })
      .toBe(true);
    await expect.poll(() => sub.pubsub.subscriptionState(topic)).toBe('subscribed');
    expect(a.pubsub.subscriberNodes(topic)).toEqual([]);
    expect(() => fromA.publish(topic, 'stale publisher')).toThrow(UnauthorizedPublisherError);
    d.router.client('pub').publish(topic, 'from d');
    await expect.poll(() => reader.received.length).toBe(2);
    expect(reader.received).toEqual(['from a', 'from d']);

    // A node holding only the old advert asks a; a knows better and refuses.
    expect(late.pubsub.addTopicAdvert(first.advert)).toBe(true);
    const lateReader = recorder(late, 'reader');
    lateReader.engine.subscribe(topic);
    await expect(late.pubsub.whenSubscribed(topic, { timeoutMs: 10_000 })).rejects.toBeInstanceOf(
      SubscriptionDeniedError,
    );
    expect(late.pubsub.counters().subscribeFailures).toBeGreaterThanOrEqual(1);
  });

  it('retries a failed subscription with backoff until the publisher node is reachable', async () => {
    net = new TestNetwork();
    const pub = await net.add();
    const sub = await net.add({ retryMinMs: 10, retryMaxMs: 40 });
    const { topic, advert } = pub.pubsub.createTopic({ publisher: 'ticker' });
    sub.pubsub.addTopicAdvert(advert); // learned out of band (e.g. its text form)
    const failures: Error[] = [];
    sub.pubsub.onEvent((e) => e.type === 'topic:subscribe-failed' && failures.push(e.error));
    const reader = recorder(sub, 'reader');
    reader.engine.subscribe(topic);
    await expect
      .poll(() => failures.length, { message: 'retries while unreachable' })
      .toBeGreaterThanOrEqual(2);
    // The link comes up without anyone reporting it: the retry timer finds it.
    net.connect(pub, sub, false);
    await sub.pubsub.whenSubscribed(topic, { timeoutMs: 10_000 });
    pub.router.client('ticker').publish(topic, 'reached');
    await expect.poll(() => reader.received.length).toBe(1);
    expect(reader.received).toEqual(['reached']);
  });

  it('refuses subscriptions from an engine other than pubsub, and survives garbage', async () => {
    net = new TestNetwork();
    const pub = await net.add();
    const rogue = await net.add();
    net.connect(pub, rogue);
    const { topic } = pub.pubsub.createTopic({ publisher: 'ticker' });
    const prober = rogue.router.client('prober');
    const target = { node: pub.node, name: 'pubsub' };
    const reply: EngineMessage = await prober.request(target, [topic], {
      protocol: PubSubProtocol.Subscribe,
    });
    expect((reply.body as unknown[])[0]).toBe(SubscribeStatus.BadRequest);
    expect(pub.pubsub.subscriberNodes(topic)).toEqual([]);
    for (const protocol of Object.values(PubSubProtocol)) {
      prober.send(target, { garbage: true }, { protocol });
    }
    prober.send(target, [1, 2, 3], { protocol: 'pubsub/unknown@9' });
    await expect
      .poll(() => pub.pubsub.counters().dropped.malformed === Object.values(PubSubProtocol).length + 1)
      .toBe(true);
    // Still serving.
    const unknown: EngineMessage = await prober.request(target, [rogue.node], {
      protocol: PubSubProtocol.Unsubscribe,
    });
    expect(unknown.body).toEqual([SubscribeStatus.NotSubscribed]);
  });

  it('refuses subscriber nodes beyond its capacity', async () => {
    net = new TestNetwork();
    const pub = await net.add({ maxSubscriberNodes: 1 });
    const [first, second] = [await net.add(), await net.add()];
    net.connect(pub, first);
    net.connect(pub, second);
    const { topic } = pub.pubsub.createTopic({ publisher: 'ticker' });
    recorder(first, 'reader').engine.subscribe(topic);
    await first.pubsub.whenSubscribed(topic);
    recorder(second, 'reader').engine.subscribe(topic);
    await expect(second.pubsub.whenSubscribed(topic, { timeoutMs: 10_000 })).rejects.toThrow(/over capacity/);
    expect(pub.pubsub.subscriberNodes(topic)).toEqual([first.node]);
  });
});
