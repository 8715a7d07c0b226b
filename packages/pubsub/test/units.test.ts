import {
  EncodedBody,
  type EngineAddress,
  KeyPair,
  QueueFullError,
  SchemaError,
  signTopicAdvert,
} from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import { readEvent, signEvent, type TopicEvent, verifyEventSignature } from '../src/index.js';
import {
  eventMessageBody,
  eventToWire,
  packEventFields,
  packEventRun,
  readEventRun,
} from '../src/protocol.js';
import { SequenceTracker } from '../src/sequence-tracker.js';
import { type OutgoingEvent, SubscriberLink } from '../src/subscriber-link.js';
import { TopicRegistry } from '../src/topic-registry.js';

const nodeKey = KeyPair.generate();
const topic = KeyPair.generate().topicId;
const publisher: EngineAddress = { node: nodeKey.id, name: 'ticker' };
const event = (seq: number, epoch = 1): TopicEvent => ({
  topic,
  publisher,
  seq,
  epoch,
  protocol: 'tick@1',
  body: { seq },
  expiry: undefined,
  sig: undefined,
});

describe('SequenceTracker', () => {
  function tracker() {
    const seen: string[] = [];
    const t = new SequenceTracker({
      gap: (_topic, _publisher, from, to) => seen.push(`gap ${from}-${to}`),
      restarted: () => seen.push('restarted'),
    });
    return { t, seen };
  }

  it('passes a run in order, reports jumps, drops repeats', () => {
    const { t, seen } = tracker();
    expect([5, 6, 7].map((s) => t.accept(event(s)))).toEqual([true, true, true]);
    expect(t.accept(event(10))).toBe(true);
    expect(t.accept(event(9))).toBe(false);
    expect(t.accept(event(10))).toBe(false);
    expect(t.accept(event(11))).toBe(true);
    expect(seen).toEqual(['gap 8-9']);
    expect(t.last(topic)).toBe(11);
  });

  it('starts again when the epoch changes', () => {
    const { t, seen } = tracker();
    t.accept(event(40, 1));
    expect(t.accept(event(1, 2))).toBe(true);
    expect(t.accept(event(3, 2))).toBe(true);
    expect(seen).toEqual(['restarted', 'gap 2-2']);
  });

  it('takes its baseline from the subscribe reply', () => {
    const fresh = tracker();
    fresh.t.baseline(topic, publisher, 1, 20, undefined);
    expect(fresh.seen).toEqual([]);
    expect(fresh.t.accept(event(21))).toBe(true);

    const restartedNode = tracker();
    restartedNode.t.baseline(topic, publisher, 1, 20, 12);
    expect(restartedNode.seen).toEqual(['gap 13-20']);

    const known = tracker();
    known.t.accept(event(15));
    known.t.baseline(topic, publisher, 1, 14, undefined); // events raced ahead of the reply
    expect(known.t.last(topic)).toBe(15);
    known.t.baseline(topic, publisher, 1, 18, 15);
    expect(known.seen).toEqual(['gap 16-18']);
  });
});

const outgoing = (seq: number, t = topic): OutgoingEvent => ({
  ...event(seq),
  topic: t,
  fields: undefined,
  size: 64,
});

describe('SubscriberLink', () => {
  function link(window: number, queueSize: number, maxBatch = 1) {
    const sent: unknown[][] = [];
    const evicted: number[] = [];
    let scheduled = 0;
    const l = new SubscriberLink(
      KeyPair.generate().id,
      { window, queueSize, maxBatch, maxBatchBytes: 64 * 1024 },
      {
        send: (_node, body) => sent.push(body.value as unknown[]),
        overflow: (_l, e) => evicted.push(e.seq),
        schedule: () => scheduled++,
        run: (events) => packEventRun(events),
      },
    );
    l.topics.set(topic, { lastSent: 0, wantsSignatures: false });
    const offer = (seq: number): void => {
      l.offer(outgoing(seq));
    };
    return { l, sent, evicted, offer, scheduled: () => scheduled };
  }

  it('sends what one turn numbered as one message per run of one topic, at most maxBatch events, in order', () => {
    const { l, sent, offer, scheduled } = link(100, 100, 4);
    for (let seq = 1; seq <= 6; seq++) offer(seq);
    // The fourth event filled a batch: it left at once; the other two wait for the turn's end.
    expect(sent).toHaveLength(1);
    expect(scheduled()).toBe(2);
    l.flush();
    l.flush(); // nothing left: nothing sent
    expect(sent).toHaveLength(2);
    const [first, second] = sent.map((body) => readEventRun(body));
    expect(first?.lastN).toBe(4);
    expect(first?.events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(second?.lastN).toBe(6);
    expect(second?.events).toEqual([event(5), event(6)]);
    offer(7);
    l.flush(); // one event alone travels as a plain pubsub/event@1 body
    expect(readEvent(sent[2])).toEqual(event(7));
    expect(sent[2]?.at(-1)).toBe(7);
    // A run ends where the topic changes or a sequence number is skipped.
    const other = KeyPair.generate().topicId;
    l.topics.set(other, { lastSent: 0, wantsSignatures: false });
    for (const e of [outgoing(8), outgoing(9), outgoing(11), outgoing(1, other)]) l.offer(e);
    l.offer(outgoing(2, other)); // the batch was full: the fifth waits for the next flush
    l.flush();
    const rest = sent.slice(3);
    expect(rest.map((body) => body.at(-1))).toEqual([9, 10, 11, 12]); // link numbers of each message's last event
    expect(readEventRun(rest[0]).events.map((e) => e.seq)).toEqual([8, 9]);
    expect(readEvent(rest[1]).seq).toBe(11);
    expect([readEvent(rest[2]), readEvent(rest[3])].map((e) => [e.topic, e.seq])).toEqual([
      [other, 1],
      [other, 2],
    ]);
  });

  it('refuses a run whose shape or link number does not add up', () => {
    const bytes = packEventRun([outgoing(1), outgoing(2)]);
    expect(readEventRun(new EncodedBody(bytes, 2).value).events).toEqual([event(1), event(2)]);
    expect(() => readEventRun(new EncodedBody(bytes, 1).value)).toThrow(SchemaError);
    const wire = new EncodedBody(bytes, 2).value as unknown[];
    expect(() => readEventRun(wire.slice(1))).toThrow(SchemaError);
    expect(() => readEventRun([...wire.slice(0, 7), 2])).toThrow(SchemaError);
    expect(() => readEventRun([5])).toThrow(SchemaError);
  });

  it('sends within the window, queues behind it, evicts the oldest when full', () => {
    const { l, sent, evicted, offer } = link(2, 3);
    for (let seq = 1; seq <= 7; seq++) offer(seq);
    expect(sent.map((b) => b[3])).toEqual([1, 2]);
    expect(sent.map((b) => b.at(-1))).toEqual([1, 2]); // link numbers
    expect(evicted).toEqual([3, 4]);
    expect({ inFlight: l.inFlight, queued: l.queued }).toEqual({ inFlight: 2, queued: 3 });
    l.ack(1);
    expect(sent.map((b) => b[3])).toEqual([1, 2, 5]);
    l.ack(99); // never past what was sent
    expect(sent.map((b) => b[3])).toEqual([1, 2, 5, 6, 7]);
    expect(l.inFlight).toBe(2);
    expect(l.topics.get(topic)?.lastSent).toBe(7);
  });

  it('forgives what is in flight on reset, and skips events of a topic no longer subscribed', () => {
    const { l, sent, offer } = link(1, 10);
    offer(1);
    offer(2);
    l.reset();
    expect(sent).toHaveLength(2);
    offer(3);
    l.topics.delete(topic);
    l.reset();
    expect(sent).toHaveLength(2);
    expect(l.queued).toBe(0);
  });
});

describe('event wire form and signature', () => {
  it('round-trips and verifies; any change breaks the signature', () => {
    const unsigned = event(3);
    const signed = { ...unsigned, sig: signEvent(nodeKey, unsigned) };
    const read = readEvent(eventMessageBody(packEventFields(signed), 9).value);
    expect(read).toEqual(signed);
    expect(verifyEventSignature(read)).toBe(true);
    expect(verifyEventSignature({ ...read, seq: 4 })).toBe(false);
    expect(verifyEventSignature({ ...read, body: { seq: 4 } })).toBe(false);
    expect(verifyEventSignature({ ...read, publisher: { ...publisher, name: 'other' } })).toBe(false);
    expect(verifyEventSignature(unsigned)).toBe(false);
    expect(() => readEvent([...eventToWire(signed)])).toThrow();
  });
});

describe('TopicRegistry', () => {
  const advert = (key: KeyPair, version: number) =>
    signTopicAdvert(key, { publisher, tags: [], version, created: Date.now() });

  it('keeps newer versions only, and a deletion retires the versions it covers', () => {
    const registry = new TopicRegistry(10);
    const key = KeyPair.generate();
    expect(registry.offer(advert(key, 2)).stored).toBe(true);
    expect(registry.offer(advert(key, 2)).stored).toBe(false);
    expect(registry.offer(advert(key, 1)).stored).toBe(false);
    registry.delete(key.topicId, 3);
    expect(registry.get(key.topicId)).toBeUndefined();
    expect(registry.offer(advert(key, 3)).stored).toBe(false); // an old copy cannot revive it
    expect(registry.offer(advert(key, 4)).stored).toBe(true); // its creator can
  });

  it('is bounded', () => {
    const registry = new TopicRegistry(2);
    registry.offer(advert(KeyPair.generate(), 1));
    registry.offer(advert(KeyPair.generate(), 1));
    expect(() => registry.offer(advert(KeyPair.generate(), 1))).toThrow(QueueFullError);
    expect(registry.size).toBe(2);
  });
});
