import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type EngineMessage,
  InvalidSignatureError,
  identityBytes,
  KeyPair,
  type NodeId,
  PeerKeyMismatchError,
  signMessage,
  signNodeAdvert,
  signTopicAdvert,
  topicAdvertToWire,
  UnauthorizedPublisherError,
} from '@netmachine/core';
import { openIdentityStore } from '@netmachine/identity-store';
import { eventToWire, PubSubProtocol, signEvent, type TopicEvent } from '@netmachine/pubsub';
import { encodeFrame, encodeMessageFrame, FrameTag, messageToWire } from '@netmachine/transport/wire';
import type { NetmachineNode } from 'netmachine';
import { afterEach, describe, expect, it } from 'vitest';
import { tlsNode } from './harness.js';
import { RogueLink } from './rogue-link.js';
import { link, wiredNode } from './wired-node.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function victim(strict = false): Promise<{ node: NetmachineNode; inbox: unknown[] }> {
  const node = await tlsNode({ strict });
  stops.push(() => node.stop());
  const inbox: unknown[] = [];
  node.spawn('inbox', (m) => {
    inbox.push(m.body);
  });
  return { node, inbox };
}

async function rogue(key = KeyPair.generate()): Promise<RogueLink> {
  const r = new RogueLink(key);
  stops.push(() => r.close());
  return r;
}

function message(src: { node: NodeId; name: string }, dst: NodeId, body: unknown): EngineMessage {
  return {
    id: Math.floor(Math.random() * 1e9),
    src,
    dst: { node: dst, name: 'inbox' },
    replyTo: undefined,
    expiry: undefined,
    protocol: 'forged/1',
    body,
    sig: undefined,
  };
}

const address = (node: NetmachineNode): string => node.transport.listenAddresses[0] as string;

describe('TLS with a key other than the advertised one', () => {
  it('a dialer refuses a listener holding another key than the advert names', async () => {
    const { node } = await victim();
    const impostor = await tlsNode();
    stops.push(() => impostor.stop());
    // X's genuine, signed advert, pointing at an address where someone else (the impostor) listens.
    const x = KeyPair.generate();
    const xId = x.id;
    const forgedPlace = signNodeAdvert(x, {
      addrs: [{ url: address(impostor), weight: 1 }],
      version: Date.now(),
      created: Date.now(),
    });
    await node.addPeer(forgedPlace);
    const failed = node.transport.events.once('peer:connect-failed', (e) => e.node === x.id);
    node.transport.connect(xId).catch(() => {});
    const event = await failed;
    const errors = [event.error, (event.error as Error & { cause?: unknown }).cause];
    console.log(
      JSON.stringify({
        dialFailure: String(event.error),
        connectFailures: node.transport.counters().connectFailures,
      }),
    );
    expect(errors.some((e) => e instanceof PeerKeyMismatchError || /key/i.test(String(e)))).toBe(true);
    expect(node.transport.connectedNodes()).not.toContain(x.id);
    expect(impostor.transport.counters().connectsOk).toBe(0);
    await node.transport.disconnect(xId);
  });

  it('a listener refuses a caller whose ConnectRequest names another key than its certificate', async () => {
    const { node, inbox } = await victim();
    const x = KeyPair.generate();
    const r = await rogue();
    const connected: NodeId[] = [];
    node.transport.events.on('peer:connected', (e) => connected.push(e.node));
    const reply = await r.open(address(node), node.id, x.id);
    await r.closed;
    const counters = node.transport.counters();
    console.log(
      JSON.stringify({
        reply,
        inboundRefused: counters.inboundRefused,
        handshakeFailures: counters.handshakeFailures,
      }),
    );
    expect(reply).toMatchObject({ ok: false, error: 'Denied' });
    expect(counters.inboundRefused).toBe(1);
    expect(counters.handshakeFailures).toBe(1);
    expect(connected).toEqual([]);
    expect(inbox).toEqual([]);
  });
});

describe('messages claiming another source over a direct link', () => {
  it("refuses a message claiming another source, however it is signed: a link carries only its peer's", async () => {
    const { node, inbox } = await victim();
    const x = KeyPair.generate();
    const fromX = { node: x.id, name: 'mallory' };
    // The retired third-party frame (type 8: `[srcNode, message]`). Messages of another node go sealed
    // through a relay; over a link even a correctly signed one is an unknown frame.
    const THIRD_PARTY_FRAME = 0x08;
    const forgeries = [
      { what: 'signed by its source', msg: signMessage(x, message(fromX, node.id, 'signed by x')) },
      { what: 'unsigned', msg: message(fromX, node.id, 'unsigned') },
      {
        what: 'signed by the relayer',
        msg: signMessage(KeyPair.generate(), message(fromX, node.id, 'wrong key')),
      },
    ];
    for (const [i, forgery] of forgeries.entries()) {
      const r = await rogue();
      expect(await r.open(address(node), node.id)).toMatchObject({ ok: true });
      r.write(encodeFrame(THIRD_PARTY_FRAME, [identityBytes(x.id), messageToWire(forgery.msg)]));
      await r.closed; // the sender is disconnected
      expect(node.transport.counters().dropped['malformed-frame'], forgery.what).toBe(i + 1);
    }
    // A Message frame names no source node: the peer's own is the only one it can have.
    const honest = await rogue();
    expect(await honest.open(address(node), node.id)).toMatchObject({ ok: true });
    honest.write(
      encodeMessageFrame(message({ node: honest.key.id, name: 'peer' }, node.id, 'own'), honest.key.id),
    );
    await expect.poll(() => inbox.length, { message: "the peer's own message" }).toBe(1);
    console.log(
      JSON.stringify({
        malformed: node.transport.counters().dropped['malformed-frame'],
        spoofedSource: node.transport.counters().dropped['spoofed-source'],
        delivered: inbox,
      }),
    );
    expect(inbox).toEqual(['own']);
    expect(honest.isClosed).toBe(false);
  });

  it('in strict mode, refuses a direct message without a valid signature of its sender', async () => {
    const { node, inbox } = await victim(true);
    const send = async (sig: 'valid' | 'none' | 'random' | 'other-key'): Promise<RogueLink> => {
      const r = await rogue();
      expect(await r.open(address(node), node.id)).toMatchObject({ ok: true });
      const base = message({ node: r.key.id, name: 'sender' }, node.id, sig);
      const msg =
        sig === 'valid'
          ? signMessage(r.key, base)
          : sig === 'random'
            ? { ...base, sig: randomBytes(64) }
            : sig === 'other-key'
              ? signMessage(KeyPair.generate(), base)
              : base;
      r.write(encodeFrame(FrameTag.Message, messageToWire(msg)));
      return r;
    };
    await send('valid');
    await expect.poll(() => inbox.length, { message: 'the signed message' }).toBe(1);
    for (const kind of ['none', 'random', 'other-key'] as const) await (await send(kind)).closed;
    const dropped = node.transport.counters().dropped['bad-signature'];
    console.log(JSON.stringify({ strictBadSignature: dropped, delivered: inbox }));
    expect(dropped).toBe(3);
    expect(inbox).toEqual(['valid']);
  });
});

describe("pub/sub events that are not the authorized publisher's", () => {
  it('drops events from another node, with a bad or missing signature, or from another engine', async () => {
    const publisher = await wiredNode();
    const subscriber = await wiredNode({ verifyEventSignatures: true });
    const intruder = await wiredNode();
    for (const n of [publisher, subscriber, intruder]) stops.push(() => n.stop());
    await link(subscriber, publisher);
    await link(intruder, subscriber);
    const { topic } = publisher.pubsub.createTopic({ publisher: 'ticker' });
    await expect
      .poll(() => subscriber.router.topicPublisher(topic) !== undefined, { message: 'the topic advert' })
      .toBe(true);
    const got: unknown[] = [];
    subscriber.router
      .client('reader', (m) => {
        got.push(m.body);
      })
      .subscribe(topic);
    await subscriber.pubsub.whenSubscribed(topic);
    const ticker = publisher.router.client('ticker');
    ticker.publish(topic, 1);
    await expect.poll(() => got.length, { message: 'the first genuine event' }).toBe(1);

    const forged = (
      key: KeyPair | undefined,
      seq: number,
      publisherName = 'ticker',
      sig?: Uint8Array,
    ): unknown[] => {
      const fields: Omit<TopicEvent, 'sig'> = {
        topic,
        publisher: { node: publisher.id, name: publisherName },
        seq,
        epoch: 0,
        protocol: 'forged/1',
        body: `forged ${seq}`,
        expiry: undefined,
      };
      const event: TopicEvent = { ...fields, sig: sig ?? (key ? signEvent(key, fields) : undefined) };
      return [...eventToWire(event), 0];
    };
    const toSubscriber = { node: subscriber.id, name: 'pubsub' };
    const options = { protocol: PubSubProtocol.Event };
    // From a node that is not the publisher's, even with a signature by that node.
    intruder.router.client('spoofer').send(toSubscriber, forged(intruder.key, 2), options);
    // From the publisher's node but another engine, posing as the publisher: no signature, a random
    // one, and one by a key other than the publisher node's.
    const forger = publisher.router.client('forger');
    forger.send(toSubscriber, forged(undefined, 2), options);
    forger.send(toSubscriber, forged(undefined, 2, 'ticker', randomBytes(64)), options);
    forger.send(toSubscriber, forged(KeyPair.generate(), 2), options);
    // An event naming an engine that is not the authorized publisher, properly signed by the node.
    forger.send(toSubscriber, forged(publisher.key, 2, 'forger'), options);
    // A local engine on the publisher's node that is not the publisher cannot publish at all.
    expect(() => publisher.router.client('intruder').publish(topic, 'x')).toThrow(UnauthorizedPublisherError);
    const judged = (): number => {
      const { dropped } = subscriber.pubsub.counters();
      return dropped.unauthorized + dropped['bad-signature'];
    };
    await expect
      .poll(() => judged(), { message: 'the forged events to be judged' })
      .toBeGreaterThanOrEqual(5);
    ticker.publish(topic, 2);
    await expect.poll(() => got.length, { message: 'the second genuine event' }).toBe(2);
    const dropped = subscriber.pubsub.counters().dropped;
    console.log(JSON.stringify({ pubsubDropped: dropped, delivered: got }));
    expect(dropped.unauthorized).toBe(2);
    expect(dropped['bad-signature']).toBe(3);
    expect(got).toEqual([1, 2]);
  });
});

describe('adverts with a bad signature or an older version', () => {
  it('the identity store refuses them, counts them, and keeps the newest', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nm-reliability-'));
    stops.push(() => rm(dir, { recursive: true, force: true }));
    const store = await openIdentityStore({ path: join(dir, 'identity') });
    await store.start();
    stops.push(() => store.stop());
    const key = KeyPair.generate();
    const at = (version: number) =>
      signNodeAdvert(key, {
        addrs: [{ url: 'tls://127.0.0.1:7100', weight: 1 }],
        version,
        created: Date.now(),
      });
    expect(await store.offerNodeAdvert(at(10))).toBe(true);
    // Replays: the same or an older version.
    expect(await store.offerNodeAdvert(at(9))).toBe(false);
    expect(await store.offerNodeAdvert(at(10))).toBe(false);
    // Tampered: a newer version and another address, with the old signature.
    const tampered = { ...at(11), addrs: [{ url: 'tls://10.6.6.6:7100', weight: 1 }] };
    await expect(store.offerNodeAdvert(tampered)).rejects.toBeInstanceOf(InvalidSignatureError);
    // Signed by another key in the name of this one.
    const other = signNodeAdvert(KeyPair.generate(), { addrs: [], version: 12, created: Date.now() });
    await expect(store.offerNodeAdvert({ ...other, id: key.id })).rejects.toBeInstanceOf(
      InvalidSignatureError,
    );
    const counters = store.counters();
    console.log(JSON.stringify({ identityStoreRejected: counters.rejected }));
    expect(counters.rejected.stale).toBe(2);
    expect(counters.rejected['invalid-signature']).toBe(2);
    expect(store.node(key.id)?.advert?.version).toBe(10);
    expect(store.node(key.id)?.advert?.addrs[0]?.url).toBe('tls://127.0.0.1:7100');
  });

  it('the pub/sub engine refuses topic adverts with a bad signature or an older version, also from the wire', async () => {
    const owner = await wiredNode();
    const peer = await wiredNode();
    for (const n of [owner, peer]) stops.push(() => n.stop());
    const topicKey = KeyPair.generate();
    const { advert } = owner.pubsub.createTopic({ topicKey, publisher: 'ticker' });
    expect(peer.pubsub.addTopicAdvert(advert)).toBe(true);
    const older = signTopicAdvert(topicKey, {
      publisher: { node: owner.id, name: 'ticker' },
      tags: [],
      version: advert.version - 1,
      created: advert.created,
    });
    expect(peer.pubsub.addTopicAdvert(older)).toBe(false);
    // A newer version naming another publisher, not signed by the topic key.
    const hijack = { ...advert, version: advert.version + 1, publisher: { node: peer.id, name: 'thief' } };
    expect(() => peer.pubsub.addTopicAdvert(hijack)).toThrow(InvalidSignatureError);
    // The same hijack arriving over the network as a pubsub/advert@1 message.
    await link(owner, peer);
    owner.router.client('liar').send({ node: peer.id, name: 'pubsub' }, topicAdvertToWire(hijack), {
      protocol: PubSubProtocol.Advert,
    });
    await expect
      .poll(() => peer.pubsub.counters().advertsRejected, { message: 'the hijack from the wire' })
      .toBe(2);
    console.log(
      JSON.stringify({
        advertsRejected: peer.pubsub.counters().advertsRejected,
        advertsStale: peer.pubsub.counters().advertsStale,
      }),
    );
    expect(peer.pubsub.counters().advertsStale).toBeGreaterThanOrEqual(1);
    expect(peer.router.topicPublisher(advert.id)).toEqual({ node: owner.id, name: 'ticker' });
  });
});
