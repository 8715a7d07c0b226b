import {
  type EngineMessage,
  KeyPair,
  UnauthorizedPublisherError,
  UnknownDestinationError,
} from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import type { TopicDelegate } from '../src/index.js';
import { newRouter } from './helpers.js';

const newTopic = () => KeyPair.generate().topicId;

describe('local multicast', () => {
  it('delivers every event to every subscriber in publish order', async () => {
    const router = newRouter();
    const topic = newTopic();
    const publisher = router.client('pub');
    router.createTopic(topic, publisher.self);
    const got: Record<string, unknown[]> = { a: [], b: [], c: [] };
    for (const name of Object.keys(got)) {
      const sub = router.client(name, (m) => {
        got[name]?.push(m.body);
      });
      sub.subscribe(topic);
    }
    for (let i = 0; i < 200; i++) publisher.publish(topic, i);
    await expect.poll(() => Object.values(got).every((list) => list.length === 200)).toBe(true);
    for (const list of Object.values(got)) expect(list).toEqual([...Array(200).keys()]);
    expect(router.counters().topicDeliveries).toBe(600);
  });

  it('refuses an unauthorized publisher with a typed error and counts it', async () => {
    const router = newRouter();
    const topic = newTopic();
    const publisher = router.client('pub');
    router.createTopic(topic, publisher.self);
    const got: unknown[] = [];
    router
      .client('sub', (m) => {
        got.push(m.body);
      })
      .subscribe(topic);
    const intruder = router.client('intruder');
    expect(() => intruder.publish(topic, 'spoof')).toThrow(UnauthorizedPublisherError);
    expect(router.counters().dropped['unauthorized-publisher']).toBe(1);
    // Fence: the publisher's next event enters the same mailbox after anything the intruder got in.
    publisher.publish(topic, 'fence');
    await expect.poll(() => got.includes('fence')).toBe(true);
    expect(got).toEqual(['fence']);
  });

  it('refuses publishing to a topic nobody created', () => {
    const router = newRouter();
    expect(() => router.client('pub').publish(newTopic(), 1)).toThrow(UnknownDestinationError);
  });

  it('stops delivering after unsubscribe, and when a subscriber stops', async () => {
    const router = newRouter();
    const topic = newTopic();
    const publisher = router.client('pub');
    router.createTopic(topic, publisher.self);
    const a: unknown[] = [];
    const b: unknown[] = [];
    const subA = router.client('a', (m) => {
      a.push(m.body);
    });
    const subB = router.client('b', (m) => {
      b.push(m.body);
    });
    subA.subscribe(topic);
    subB.subscribe(topic);
    publisher.publish(topic, 1);
    await expect.poll(() => a.length === 1 && b.length === 1).toBe(true);
    subA.unsubscribe(topic);
    await subB.stop();
    publisher.publish(topic, 2);
    // Fence for a: a direct message sent after the event; a's mailbox is FIFO, so an event queued
    // for a would be handled before it. b is stopped: nothing can be queued for it, and the
    // delivery counter (counted when a mailbox takes an event) shows that none was.
    publisher.send('a', 'fence');
    await expect.poll(() => a.includes('fence')).toBe(true);
    expect(a).toEqual([1, 'fence']);
    expect(b).toEqual([1]);
    expect(router.counters().topicDeliveries).toBe(2);
    expect(router.localSubscriberCount(topic)).toBe(0);
  });

  it('tells the delegate about local publishes and subscription counts, and fans out remote events', async () => {
    const router = newRouter();
    const remoteTopic = newTopic();
    const calls: string[] = [];
    const published: EngineMessage[] = [];
    const delegate: TopicDelegate = {
      published: (e) => {
        published.push(e);
      },
      subscriptionsChanged: (t, n) => calls.push(`${t === remoteTopic ? 'remote' : 'other'}:${n}`),
      knows: (t) => t === remoteTopic,
    };
    router.setTopicDelegate(delegate);
    const got: unknown[] = [];
    const sub = router.client('sub', (m) => {
      got.push(m.body);
    });
    const sub2 = router.client('sub2');
    sub.subscribe(remoteTopic);
    sub2.subscribe(remoteTopic);
    sub2.unsubscribe(remoteTopic);
    expect(calls).toEqual(['remote:1', 'remote:2', 'remote:1']);
    const src = { node: KeyPair.generate().id, name: 'far' } as EngineMessage['src'];
    const n = router.deliverTopicEvent({
      id: 7,
      src,
      dst: { topic: remoteTopic },
      protocol: 'msg@1',
      body: 'x',
    });
    expect(n).toBe(1);
    await expect.poll(() => got.length).toBe(1);
    // A topic the delegate knows may be published to from here; the delegate carries it on.
    router.client('p').publish(remoteTopic, 'out');
    expect(published.map((e) => e.body)).toEqual(['out']);
  });
});
