import { randomBytes } from 'node:crypto';
import {
  type EngineMessage,
  KeyPair,
  type MessageSink,
  type NodeAdvert,
  type NodeDirectory,
  type NodeId,
  type NodeRecordView,
  releaseMessageBytes,
  signNodeAdvert,
  TRUST_DEFAULT,
} from '@netmachine/core';
import { TransportEngine } from '@netmachine/transport';
import { sharedFramePool, sharedSlabPool } from '@netmachine/transport/wire';
import { afterEach, describe, expect, it } from 'vitest';
import { tls } from '../src/index.js';

class Directory implements NodeDirectory {
  readonly #records = new Map<NodeId, NodeRecordView>();
  node(id: NodeId): NodeRecordView | undefined {
    return this.#records.get(id);
  }
  async offerNodeAdvert(advert: NodeAdvert): Promise<boolean> {
    this.#records.set(advert.id, { id: advert.id, trust: TRUST_DEFAULT, advert });
    return true;
  }
}

class Received implements MessageSink {
  readonly messages: EngineMessage[] = [];
  readonly failed: { message: EngineMessage; error: Error }[] = [];
  deliver(message: EngineMessage): boolean {
    this.messages.push(message);
    return true;
  }
  undeliverable(message: EngineMessage, error: Error): void {
    this.failed.push({ message, error });
  }
}

interface Peer {
  readonly key: KeyPair;
  readonly directory: Directory;
  readonly engine: TransportEngine;
  readonly received: Received;
  advert: NodeAdvert;
}

const running: TransportEngine[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.stop()));
});

async function peer(queueSize?: number): Promise<Peer> {
  const key = KeyPair.generate();
  const directory = new Directory();
  const received = new Received();
  const engine = new TransportEngine({
    keyPair: key,
    directory,
    transports: [tls()],
    listen: ['tls://127.0.0.1:0'],
    ...(queueSize === undefined ? {} : { limits: { queueSize } }),
  });
  engine.setSink(received);
  await engine.start();
  running.push(engine);
  const advert = signNodeAdvert(key, {
    addrs: engine.listenAddresses.map((url) => ({ url, weight: 10 })),
    version: 1,
    created: Date.now(),
  });
  return { key, directory, engine, received, advert };
}

let ids = 0;
function bytesMessage(from: Peer, to: Peer, body: unknown): EngineMessage {
  return {
    id: ++ids,
    src: { node: from.key.id, name: 'sender' },
    dst: { node: to.key.id, name: 'receiver' },
    protocol: 'bytes@1',
    body,
  };
}

describe('large messages over TLS', () => {
  it('reuses the buffer of a released message, and never that of one still kept', async () => {
    const [a, b] = [await peer(), await peer()];
    await a.directory.offerNodeAdvert(b.advert);
    // 1 MiB bodies: each frame arrives over many TLS reads and is assembled in a pooled buffer.
    const bodies = Array.from({ length: 6 }, () => randomBytes(1024 * 1024));
    const before = sharedFramePool.stats();
    // One at a time, so each is handed back (or not) before the next is read.
    for (const [i, body] of bodies.entries()) {
      a.engine.send(bytesMessage(a, b, body));
      await expect.poll(() => b.received.messages.length, { timeout: 10_000 }).toBe(i + 1);
      const message = b.received.messages[i]!;
      expect((message.body as Buffer).equals(body)).toBe(true);
      // The first is kept (as a consumer that never releases); every later one is handed back, once.
      if (i === 0) continue;
      expect(releaseMessageBytes(message)).toBe(true);
      expect(releaseMessageBytes(message)).toBe(false);
    }
    // The kept message still holds its own bytes after five more were read, four into reused memory.
    expect((b.received.messages[0]!.body as Buffer).equals(bodies[0]!)).toBe(true);
    const after = sharedFramePool.stats();
    expect(after.reused - before.reused).toBeGreaterThanOrEqual(4);
  });

  it('sends intact bytes while later sends reuse the slabs of earlier ones', async () => {
    const [a, b] = [await peer(), await peer()];
    await a.directory.offerNodeAdvert(b.advert);
    // Bursts of 200 KiB bodies, each frame in a slab of its own: a burst is queued faster than the
    // socket sends it, so slabs are both in flight and reused by the next burst once written.
    const bodies: Buffer[] = [];
    const before = sharedSlabPool.stats();
    for (let burst = 0; burst < 8; burst++) {
      const given = sharedSlabPool.stats();
      for (let i = 0; i < 8; i++) {
        const body = randomBytes(200 * 1024);
        bodies.push(body);
        a.engine.send(bytesMessage(a, b, body));
      }
      await expect.poll(() => b.received.messages.length, { timeout: 20_000 }).toBe(bodies.length);
      // The socket has written them: their slabs are back for the next burst.
      await expect
        .poll(() => sharedSlabPool.stats().recycled + sharedSlabPool.stats().dropped, { timeout: 20_000 })
        .toBeGreaterThan(given.recycled + given.dropped);
    }
    for (const [i, body] of bodies.entries()) {
      expect((b.received.messages[i]!.body as Buffer).equals(body)).toBe(true);
    }
    const after = sharedSlabPool.stats();
    expect(after.reused - before.reused).toBeGreaterThanOrEqual(7);
  });

  it('sends one large body to several links, in order with what is around it; a full queue drops as usual', async () => {
    const a = await peer(2);
    const [b, c, down] = [await peer(), await peer(), await peer()];
    for (const to of [b, c, down]) await a.directory.offerNodeAdvert(to.advert);
    // Open links take what is sent at once (under their high-water mark: nothing waits in a queue).
    for (const to of [b, c]) await a.engine.connect(to.key.id);
    // Nobody listens for `down` any more: what is sent to it waits in its queue of two, then drops.
    await down.engine.stop();
    const batches = Array.from({ length: 4 }, () => randomBytes(64 * 1024));
    for (const [i, payload] of batches.entries()) {
      for (const to of [b, c, down]) {
        a.engine.send(bytesMessage(a, to, `before ${i}`));
        // A tree message's shape: the same payload inside a plain object, to every link.
        a.engine.send(bytesMessage(a, to, { type: 'gossip', id: `p/${i}`, payload, hops: 1 }));
      }
    }
    // The link to `down` took two and refused the rest at once, with the usual report…
    expect(a.received.failed).toHaveLength(2 * batches.length - 2);
    expect(a.received.failed.every(({ error }) => error.name === 'QueueFullError')).toBe(true);
    expect(
      a.received.failed.every(({ message }) => (message.dst as { node: NodeId }).node === down.key.id),
    ).toBe(true);
    expect(a.engine.counters().dropped['queue-full']).toBe(2 * batches.length - 2);
    // …while the others send everything.
    for (const to of [b, c]) {
      await expect.poll(() => to.received.messages.length, { timeout: 20_000 }).toBe(2 * batches.length);
      for (const [i, payload] of batches.entries()) {
        expect(to.received.messages[2 * i]!.body).toBe(`before ${i}`);
        const gossip = to.received.messages[2 * i + 1]!.body as { id: string; payload: Uint8Array };
        expect(gossip.id).toBe(`p/${i}`);
        expect(Buffer.from(gossip.payload).equals(payload)).toBe(true);
      }
    }
  });
});
