import {
  InvalidSignatureError,
  KeyPair,
  signTopicAdvert,
  type TopicId,
  topicAdvertToWire,
  UnauthorizedPublisherError,
} from '@netmachine/core';
import { afterEach, describe, expect, it } from 'vitest';
import { eventToWire, NotTopicOwnerError, PubSubProtocol, signDeletion } from '../src/index.js';
import { recorder, TestNetwork, type TestNode } from './network.js';

describe('authorization and authentication', () => {
  let net: TestNetwork;
  afterEach(async () => {
    await net.stop();
  });

  async function subscribed(): Promise<{
    pub: TestNode;
    sub: TestNode;
    rogue: TestNode;
    topic: TopicId;
    got: unknown[];
  }> {
    net = new TestNetwork();
    const pub = await net.add();
    const sub = await net.add();
    const rogue = await net.add();
    net.connect(pub, sub);
    net.connect(rogue, sub);
    const { topic } = pub.pubsub.createTopic({ publisher: 'ticker' });
    const r = recorder(sub, 'reader');
    r.engine.subscribe(topic);
    await sub.pubsub.whenSubscribed(topic, { timeoutMs: 10_000 });
    return { pub, sub, rogue, topic, got: r.received };
  }

  it('refuses a forged TopicAdvert with a typed error, counted, locally and from the network', async () => {
    net = new TestNetwork();
    const a = await net.add();
    const b = await net.add();
    const topicKey = KeyPair.generate();
    const genuine = signTopicAdvert(topicKey, {
      publisher: { node: a.node, name: 'ticker' },
      tags: [],
      version: 1,
      created: Date.now(),
    });
    // Same topic, another publisher, the genuine signature: the topic key never signed this.
    const forged = { ...genuine, publisher: { node: b.node, name: 'intruder' } };
    expect(() => b.pubsub.addTopicAdvert(forged)).toThrow(InvalidSignatureError);
    // Signed by some other key but claiming the topic's identity.
    const impostor = { ...signTopicAdvert(KeyPair.generate(), { ...genuine }), id: genuine.id };
    expect(() => b.pubsub.addTopicAdvert(impostor)).toThrow(InvalidSignatureError);
    expect(b.pubsub.counters().advertsRejected).toBe(2);
    expect(b.pubsub.topicAdvert(genuine.id)).toBeUndefined();

    net.connect(a, b);
    const rejected: unknown[] = [];
    b.pubsub.onEvent((e) => e.type === 'advert:rejected' && rejected.push(e.error));
    a.router.client('sender').send({ node: b.node, name: 'pubsub' }, topicAdvertToWire(forged), {
      protocol: PubSubProtocol.Advert,
    });
    await expect.poll(() => rejected.length, { message: 'rejection' }).toBe(1);
    expect(rejected[0]).toBeInstanceOf(InvalidSignatureError);
    expect(b.pubsub.topicAdvert(genuine.id)).toBeUndefined();

    expect(b.pubsub.addTopicAdvert(genuine)).toBe(true);
    expect(b.pubsub.addTopicAdvert(genuine)).toBe(false); // a repeat is not newer
    expect(b.pubsub.counters().advertsStale).toBe(1);
  });

  it('refuses publishing by anyone but the authorized publisher, on either node', async () => {
    const { pub, sub, topic, got } = await subscribed();
    expect(() => pub.router.client('intruder').publish(topic, 'spoof')).toThrow(UnauthorizedPublisherError);
    // A subscriber node's engines cannot publish to the topic either: the router knows its publisher.
    expect(() => sub.router.client('local-intruder').publish(topic, 'spoof')).toThrow(
      UnauthorizedPublisherError,
    );
    pub.router.client('ticker').publish(topic, 'genuine');
    await expect.poll(() => got.length).toBe(1);
    expect(got).toEqual(['genuine']);
  });

  it('drops events that come from another node or name another publisher, and counts them', async () => {
    const { pub, sub, rogue, topic, got } = await subscribed();
    const fake = (publisher: { node: TestNode['node']; name: string }, seq: number) =>
      [
        ...eventToWire({
          topic,
          publisher,
          seq,
          epoch: 1,
          protocol: 'msg@1',
          body: 'spoof',
          expiry: undefined,
          sig: undefined,
        }),
        1,
      ] as unknown[];
    // A third node claims to forward the genuine publisher's event.
    rogue.router
      .client('forger')
      .send({ node: sub.node, name: 'pubsub' }, fake({ node: pub.node, name: 'ticker' }, 1), {
        protocol: PubSubProtocol.Event,
      });
    // The publisher's node, but an event naming an engine that is not the authorized publisher.
    pub.router
      .client('forger')
      .send({ node: sub.node, name: 'pubsub' }, fake({ node: pub.node, name: 'forger' }, 1), {
        protocol: PubSubProtocol.Event,
      });
    // Garbage.
    rogue.router.client('garbage').send(
      { node: sub.node, name: 'pubsub' },
      { not: 'an event' },
      {
        protocol: PubSubProtocol.Event,
      },
    );
    await expect
      .poll(
        () =>
          sub.pubsub.counters().dropped.unauthorized === 2 && sub.pubsub.counters().dropped.malformed === 1,
        { message: 'drops' },
      )
      .toBe(true);
    pub.router.client('ticker').publish(topic, 'genuine');
    await expect.poll(() => got.length).toBe(1);
    expect(got).toEqual(['genuine']);
  });

  it('checks every event of a run as if it had come alone', async () => {
    const { pub, sub, rogue, topic, got } = await subscribed();
    // pubsub/events@1: the shared fields, then body, expiry and signature per event, then the link number.
    const run = (name: string, firstSeq: number) =>
      [topic, pub.node, name, 1, 'msg@1', firstSeq, 'spoof', null, null, 'spoof', null, null, 2] as unknown[];
    const send = (from: TestNode, body: unknown) =>
      from.router
        .client(`forger-${Math.random()}`)
        .send({ node: sub.node, name: 'pubsub' }, body, { protocol: PubSubProtocol.Events });
    send(rogue, run('ticker', 1)); // a third node claims to pass on the publisher's events
    send(pub, run('forger', 1)); // the publisher's node, naming an engine that may not publish
    send(rogue, [topic, pub.node, 'ticker', 1, 'msg@1', 1, 'spoof', null, 1]); // link number below the count
    send(rogue, [topic, pub.node, 'ticker', 1, 'msg@1', 1, 'spoof', null, null, 'x', 2]); // a field short
    await expect
      .poll(
        () =>
          sub.pubsub.counters().dropped.unauthorized === 4 && sub.pubsub.counters().dropped.malformed === 2,
        { message: 'drops' },
      )
      .toBe(true);
    const ticker = pub.router.client('ticker');
    for (const body of ['a', 'b', 'c']) ticker.publish(topic, body); // one turn: one run
    await expect.poll(() => got.length).toBe(3);
    expect(got).toEqual(['a', 'b', 'c']);
  });

  it('checks publisher signatures when asked to', async () => {
    net = new TestNetwork();
    const signing = await net.add();
    const unsigned = await net.add({ signEvents: false });
    const strict = await net.add({ verifyEventSignatures: true });
    net.connect(signing, strict);
    net.connect(unsigned, strict);
    const good = signing.pubsub.createTopic({ publisher: 'p' }).topic;
    const bad = unsigned.pubsub.createTopic({ publisher: 'p' }).topic;
    const r = recorder(strict, 'reader');
    r.engine.subscribe(good);
    r.engine.subscribe(bad);
    await Promise.all([strict.pubsub.whenSubscribed(good), strict.pubsub.whenSubscribed(bad)]);
    unsigned.router.client('p').publish(bad, 'unsigned');
    signing.router.client('p').publish(good, 'signed');
    await expect
      .poll(() => r.received.length === 1 && strict.pubsub.counters().dropped['bad-signature'] === 1)
      .toBe(true);
    expect(r.received).toEqual(['signed']);
    // Signed because the subscriber asked; the publisher signs once per publish.
    expect(signing.pubsub.counters().eventsSigned).toBe(1);
    expect(unsigned.pubsub.counters().eventsSigned).toBe(0);
  });

  it('lets only the creator delete a topic, and tells subscriber nodes', async () => {
    const { pub, sub, rogue, topic, got } = await subscribed();
    expect(() => sub.pubsub.deleteTopic(topic)).toThrow(NotTopicOwnerError);
    // A deletion signed by a key other than the topic's is refused.
    const forged = { ...signDeletion(KeyPair.generate(), 1), topic };
    rogue.router
      .client('forger')
      .send({ node: sub.node, name: 'pubsub' }, [forged.topic, forged.version, forged.sig], {
        protocol: PubSubProtocol.Delete,
      });
    await expect
      .poll(() => sub.pubsub.counters().advertsRejected, { message: 'forged deletion refused' })
      .toBe(1);
    expect(sub.pubsub.topicAdvert(topic)).toBeDefined();

    const deleted: unknown[] = [];
    sub.pubsub.onEvent((e) => e.type === 'topic:deleted' && deleted.push(e.topic));
    pub.pubsub.deleteTopic(topic);
    await expect.poll(() => deleted.length, { message: 'deletion reaches the subscriber' }).toBe(1);
    expect(sub.pubsub.topicAdvert(topic)).toBeUndefined();
    expect(sub.pubsub.subscriptionState(topic)).toBe('awaiting-advert');
    expect(pub.pubsub.subscriberNodes(topic)).toEqual([]);
    expect(() => pub.router.client('ticker').publish(topic, 'late')).toThrow();
    expect(got).toEqual([]);
  });
});
