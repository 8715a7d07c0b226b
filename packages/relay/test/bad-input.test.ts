import type { NodeId } from '@netmachine/core';
import { createNode } from '@netmachine/node';
import { FrameTag } from '@netmachine/transport/wire';
import { tls } from '@netmachine/transport-tls';
import { afterEach, describe, expect, it } from 'vitest';
import { deliverFrameHead, forwardFrameHead } from '../src/link-frames.js';
import { encodeDeliver, encodeForward, RELAY_ENGINE, RELAY_PROTOCOL } from '../src/protocol.js';
import { collect, type RelayNode, start, stopAll } from './real-nodes.js';

afterEach(stopAll);

/** A relay B that records what it passes on, C behind it, and a source A. */
async function triangle(offer: Parameters<typeof start>[0]['offer'] = { policy: { kind: 'anyone' } }) {
  const tapped: { destination: NodeId; expiry: number; sealed: Uint8Array }[] = [];
  const b = await start({
    offer,
    tap: (e) => tapped.push({ destination: e.destination, expiry: e.expiry, sealed: Buffer.from(e.sealed) }),
  });
  const c = await start({}, { behind: [b] });
  const a = await start({}, { peers: [b, c] });
  return { a, b, c, tapped, got: collect(c, 'sink') };
}

/** Sends a raw relay-protocol frame from `from`'s engine `name` to `to`'s relay engine. */
function raw(from: RelayNode, to: NodeId, body: unknown[]): void {
  from.client(`raw-${Math.random().toString(36).slice(2)}`).send({ node: to, name: RELAY_ENGINE }, body, {
    protocol: RELAY_PROTOCOL,
    ttlMs: 10_000,
  });
}

describe('bad input at the relay and the destination', () => {
  it('a tampered ciphertext is refused at the destination and counted', async () => {
    const { a, b, c, tapped, got } = await triangle();
    a.client('app').send({ node: c.id, name: 'sink' }, 'genuine', { ttlMs: 10_000 });
    await expect.poll(() => got.length).toBe(1);
    const sealed = Buffer.from(tapped[0]?.sealed as Uint8Array);
    sealed[sealed.length - 20] = (sealed[sealed.length - 20] as number) ^ 0x40;
    // B (the relay, turned hostile) delivers a changed copy as if it came from A.
    raw(b, c.id, encodeDeliver(a.id, tapped[0]?.expiry as number, sealed));
    await expect.poll(() => c.services.relay.counters().openFailed.RelayDecryptError).toBe(1);
    expect(got).toHaveLength(1);
  });

  it('a replayed RelayMessage is dropped and counted', async () => {
    const { a, b, c, tapped, got } = await triangle();
    a.client('app').send({ node: c.id, name: 'sink' }, 'once', { ttlMs: 10_000 });
    await expect.poll(() => got.length).toBe(1);
    const first = tapped[0]!;
    // The relay (turned hostile) hands the same bytes over again, twice.
    raw(b, c.id, encodeDeliver(a.id, first.expiry, first.sealed));
    raw(b, c.id, encodeDeliver(a.id, first.expiry, first.sealed));
    await expect.poll(() => c.services.relay.counters().openFailed.RelayReplayError).toBe(2);
    expect(got).toHaveLength(1);
  });

  it('a message for a destination the relay does not serve is refused and counted', async () => {
    const { a, b } = await triangle();
    const stranger = await start({});
    raw(a, b.id, encodeForward(stranger.id, Date.now() + 9000, 7, Buffer.alloc(256), 0));
    await expect.poll(() => b.services.relay.counters().refused['not-served']).toBe(1);
    expect(b.services.relay.counters().forwarded).toBe(0);
  });

  it('frames that are not bucket-sized, expired or malformed are dropped and counted', async () => {
    const { a, b, c } = await triangle();
    raw(a, b.id, encodeForward(c.id, Date.now() + 9000, 1, Buffer.alloc(300), 0));
    raw(a, b.id, encodeForward(c.id, Date.now() - 1, 2, Buffer.alloc(256), 0));
    raw(a, b.id, [0, 'not bytes']);
    raw(a, b.id, [9]);
    await expect.poll(() => b.services.relay.counters().relayDropped).toBe(2);
    await expect.poll(() => b.services.relay.counters().malformed).toBe(2);
    expect(b.services.relay.counters().forwarded).toBe(0);
  });

  it('Relay link frames that are malformed, not bucket-sized, expired, replayed or tampered are dropped and counted, and the link stays up', async () => {
    const { a, b, c, tapped, got } = await triangle();
    const app = a.client('app');
    app.send({ node: c.id, name: 'sink' }, 'genuine', { ttlMs: 10_000 });
    await expect.poll(() => got.length).toBe(1);
    expect(a.services.relay.counters().sentAsFrames).toBe(1);
    expect(b.services.relay.counters().sentAsFrames).toBe(1);
    const frame = (head: Buffer, tail: Uint8Array) => {
      // A Relay frame written as a hostile peer would: the head is a shared scratch, so it is sent at once.
      expect(a.transport.sendRelayFrame(b.id, head, tail)).toBe(true);
    };
    // At the relay: an unknown kind, a Forward too short to hold its fields, one whose expiry is out
    // of range (malformed); one not bucket-sized and one expired (dropped).
    frame(Buffer.from([0, 0, 0, 2, FrameTag.Relay, 9]), Buffer.alloc(0));
    frame(Buffer.from([0, 0, 0, 11, FrameTag.Relay, 0]), Buffer.alloc(9));
    const farFuture = forwardFrameHead(c.id, 0, 3, 256);
    farFuture.writeUInt32BE(0xffff_ffff, 38);
    frame(farFuture, Buffer.alloc(256));
    frame(forwardFrameHead(c.id, Date.now() + 9000, 4, 300), Buffer.alloc(300));
    frame(forwardFrameHead(c.id, Date.now() - 1, 5, 256), Buffer.alloc(256));
    await expect.poll(() => b.services.relay.counters().malformed).toBe(3);
    await expect.poll(() => b.services.relay.counters().relayDropped).toBe(2);
    // At the destination: the relay (turned hostile) replays the genuine message and tampers with it.
    const genuine = tapped[0]!;
    const tampered = Buffer.from(genuine.sealed);
    tampered[tampered.length - 20] = (tampered[tampered.length - 20] as number) ^ 0x40;
    for (const sealed of [genuine.sealed, tampered]) {
      expect(
        b.transport.sendRelayFrame(c.id, deliverFrameHead(a.id, genuine.expiry, sealed.length), sealed),
      ).toBe(true);
    }
    await expect.poll(() => c.services.relay.counters().openFailed.RelayReplayError).toBe(1);
    await expect.poll(() => c.services.relay.counters().openFailed.RelayDecryptError).toBe(1);
    expect(got).toHaveLength(1);
    expect(b.services.relay.counters().forwarded).toBe(1);
    // Nothing closed a link: the path still carries messages.
    expect(a.transport.connectedNodes()).toContain(b.id);
    expect(b.transport.connectedNodes()).toContain(c.id);
    app.send({ node: c.id, name: 'sink' }, 'after', { ttlMs: 10_000 });
    await expect.poll(() => got.length).toBe(2);
  });

  it('a Relay frame to a node without the relay service is dropped, and the link stays up', async () => {
    const { a, b } = await triangle();
    const plain = await createNode({ transports: [tls()], peers: [{ advert: a.advert }] });
    try {
      await plain.start();
      await plain.transport.connect(a.id);
      await expect.poll(() => a.transport.connectedNodes()).toContain(plain.id);
      expect(
        a.transport.sendRelayFrame(
          plain.id,
          deliverFrameHead(b.id, Date.now() + 9000, 256),
          Buffer.alloc(256),
        ),
      ).toBe(true);
      await expect.poll(() => plain.transport.counters().messagesIn).toBeGreaterThanOrEqual(1);
      await expect
        .poll(() => plain.counters().router.dropped['unknown-destination'])
        .toBeGreaterThanOrEqual(1);
      expect(a.transport.connectedNodes()).toContain(plain.id);
    } finally {
      await plain.stop();
    }
  });

  // 5000 sealed messages through three nodes in one process: CPU-bound, 8-26 s on a loaded two-core
  // machine, too close to the default 30 s.
  it('a flooding source is rate-limited, answered with few refusals, and the relay keeps bounded state', {
    timeout: 120_000,
  }, async () => {
    const rate = 50;
    const { a, b, c, got } = await triangle({
      policy: { kind: 'anyone' },
      perSource: { messagesPerSecond: rate, bytesPerSecond: 1_000_000 },
      maxSources: 4,
    });
    const flood = 5000;
    const client = a.client('flood');
    const started = Date.now();
    // The link to the relay is up first, so the flood reaches it (rather than waiting at the source).
    client.send({ node: c.id, name: 'sink' }, -1, { ttlMs: 20_000 });
    await expect.poll(() => got.length).toBe(1);
    // One message per task, so each is its own RelayMessage (the relay counts RelayMessages).
    // Lives longer than any flood takes: a message that expired in a queue would be counted nowhere below.
    for (let i = 0; i < flood; i++) {
      client.send({ node: c.id, name: 'sink' }, i, { ttlMs: 120_000 });
      await new Promise((resolve) => setImmediate(resolve));
    }
    const counted = (): number => {
      const k = b.services.relay.counters();
      return k.forwarded + k.refused['rate-source'] + k.refused['rate-total'];
    };
    // Every message is accounted for: a full relay mailbox pauses reading from the source rather than
    // dropping, so each one that reached the relay is forwarded or refused (the first one too; a refusal not sent because
    // refusals are rate-limited is still counted as refused).
    // The rest never left the source: its queue to the relay was full (counted there).
    const atSource = (): number => a.transport.counters().dropped['queue-full'];
    await expect.poll(() => counted() + atSource(), { timeout: 20_000 }).toBe(flood + 1);
    const k = b.services.relay.counters();
    const elapsedSeconds = (Date.now() - started) / 1000;
    expect(k.refused['rate-source']).toBeGreaterThan(0);
    // The source's bucket: a burst of one second's worth, then `rate` a second, however long the flood took.
    expect(k.forwarded).toBeLessThanOrEqual(rate + rate * elapsedSeconds);
    expect(k.forwarded).toBeLessThan(flood / 2);
    await expect.poll(() => got.length).toBe(k.forwarded);
    // Refusals back to the source are themselves rate-limited.
    await expect.poll(() => a.services.relay.counters().refusedBack['rate-source']).toBeGreaterThan(0);
    expect(a.services.relay.counters().refusedBack['rate-source']).toBeLessThan(k.refused['rate-source']);
    // Each refusal that came back failed its message at the source, as a drop the transport counts.
    expect(a.transport.counters().dropped['relay-refused']).toBe(
      a.services.relay.counters().refusedBack['rate-source'],
    );
    // Many sources: the relay keeps rate state for at most maxSources of them.
    for (let i = 0; i < 8; i++) {
      const s = await start({}, { peers: [b, c] });
      s.client('app').send({ node: c.id, name: 'sink' }, 'hi', { ttlMs: 10_000 });
    }
    await expect.poll(() => b.services.relay.counters().forwarded).toBeGreaterThanOrEqual(k.forwarded + 8);
    expect(b.services.relay.counters().sources).toBeLessThanOrEqual(4);
  });
});
