import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { HandshakeError, KeyPair, PeerDeniedError } from '@netmachine/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { QuicTransport } from '../src/index.js';
import { listenOn, makeTransport, Sink, writeAll } from './helpers.js';

const open: QuicTransport[] = [];
function transport(options: Parameters<typeof makeTransport>[0] = {}, keyPair?: KeyPair) {
  const made = makeTransport(options, keyPair);
  open.push(made.transport);
  return made;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function connectedPair(options: Parameters<typeof makeTransport>[0] = {}) {
  const server = transport(options);
  const client = transport(options);
  const { address, next, listener } = await listenOn(server.transport);
  const outbound = await client.transport.dial(address, server.keyPair.id as never);
  const inbound = await next();
  return { server, client, address, listener, outbound, inbound };
}

// @matrixai/quic is CPU-bound in JavaScript: generous timeouts for a busy machine.
describe('quic transport', { timeout: 90_000 }, () => {
  it('connects with mutual authentication and carries bytes both ways', async () => {
    const { server, client, address, outbound, inbound } = await connectedPair();
    expect(address).toMatch(/^quic:\/\/127\.0\.0\.1:\d+$/);
    expect(outbound.remoteNode).toBe(server.keyPair.id);
    expect(inbound.remoteNode).toBe(client.keyPair.id);
    expect([outbound.direction, inbound.direction]).toEqual(['outbound', 'inbound']);
    expect(outbound.protocol).toBe('quic');
    expect(outbound.remoteAddress).toBe(address);

    const [fromServer, fromClient] = [new Sink(), new Sink()];
    outbound.setHandlers(fromServer);
    inbound.setHandlers(fromClient);
    outbound.write(Buffer.from('hello '));
    outbound.write(Buffer.from('server'));
    inbound.write(Buffer.from('hello client'));
    await expect
      .poll(() => fromClient.text() === 'hello server' && fromServer.text() === 'hello client', {
        message: 'echo',
      })
      .toBe(true);
    expect(server.transport.counters().inboundAccepted).toBe(1);
    expect(client.transport.counters().outboundEstablished).toBe(1);
  });

  it('joins many small writes into few stream writes', async () => {
    const { client, outbound, inbound } = await connectedPair();
    const sink = new Sink();
    inbound.setHandlers(sink);
    outbound.setHandlers(new Sink());
    const before = client.transport.counters().streamWrites;
    const message = Buffer.alloc(100, 1);
    for (let i = 0; i < 500; i++) outbound.write(message);
    await expect.poll(() => sink.bytes, { message: 'all messages' }).toBe(50_000);
    // 500 writes in one tick leave as one stream write (two if a slab boundary falls inside).
    expect(client.transport.counters().streamWrites - before).toBeLessThanOrEqual(2);
  });

  it('moves large writes both ways intact, with backpressure', async () => {
    const { outbound, inbound } = await connectedPair({
      highWaterMark: 128 * 1024,
      maxBatchBytes: 64 * 1024,
    });
    const [atClient, atServer] = [new Sink(), new Sink()];
    outbound.setHandlers(atClient);
    inbound.setHandlers(atServer);
    const up = randomBytes(1024 * 1024);
    const down = randomBytes(512 * 1024 + 17);
    await Promise.all([
      writeAll(outbound, atClient, up, 64 * 1024),
      writeAll(inbound, atServer, down, 100_000),
    ]);
    await expect
      .poll(() => atServer.bytes === up.length && atClient.bytes === down.length, { message: 'all bytes' })
      .toBe(true);
    expect(sha(atServer.data())).toBe(sha(up));
    expect(sha(atClient.data())).toBe(sha(down));
    expect(atClient.drains + atServer.drains).toBeGreaterThan(0);
  });

  it('delivers bytes that arrived before setHandlers first', async () => {
    const { client, outbound, inbound } = await connectedPair();
    inbound.setHandlers(new Sink());
    inbound.write(Buffer.from('last words'));
    await inbound.close();
    await expect
      .poll(() => client.transport.counters().openConnections, { message: 'the client to see the close' })
      .toBe(0);
    const sink = new Sink();
    outbound.setHandlers(sink);
    expect(sink.text()).toBe('last words');
    expect(sink.closed).toBe(true);
    expect(sink.closeError).toBeUndefined();
  });

  it('close flushes queued bytes before the peer sees a clean close', async () => {
    const { client, server, outbound, inbound } = await connectedPair();
    const [atClient, atServer] = [new Sink(), new Sink()];
    outbound.setHandlers(atClient);
    inbound.setHandlers(atServer);
    const payload = randomBytes(256 * 1024);
    outbound.write(payload);
    await outbound.close();
    await expect.poll(() => atServer.closed && atClient.closed, { message: 'both sides closed' }).toBe(true);
    expect(sha(atServer.data())).toBe(sha(payload));
    expect(atServer.closeError).toBeUndefined();
    expect(atClient.closeError).toBeUndefined();
    expect(outbound.write(Buffer.from('after close'))).toBe(false);
    await expect
      .poll(() => server.transport.counters().openConnections, { message: 'the server to forget it' })
      .toBe(0);
    expect(client.transport.counters().openConnections).toBe(0);
  });

  it('abort closes at once; the peer sees the connection end', async () => {
    const { server, outbound, inbound } = await connectedPair();
    const [atClient, atServer] = [new Sink(), new Sink()];
    outbound.setHandlers(atClient);
    inbound.setHandlers(atServer);
    const reason = new Error('enough');
    outbound.abort(reason);
    expect(atClient.closeError).toBe(reason);
    await expect.poll(() => atServer.closed, { message: 'the peer to see the close' }).toBe(true);
    expect(atServer.closeError).toBeDefined();
    await expect
      .poll(() => server.transport.counters().openConnections, { message: 'the server to forget it' })
      .toBe(0);
  });

  it('survives UDP garbage and keeps serving', async () => {
    const server = transport();
    const client = transport();
    const { address, next } = await listenOn(server.transport);
    const port = Number(new URL(address).port);
    const udp = createSocket('udp4');
    for (const size of [1, 20, 1200, 1350, 3000]) {
      await new Promise<void>((resolve) => udp.send(randomBytes(size), port, '127.0.0.1', () => resolve()));
    }
    // A long-header Initial packet with a garbage body.
    const initialLike = randomBytes(1200);
    initialLike[0] = 0xc0;
    initialLike.writeUInt32BE(1, 1);
    await new Promise<void>((resolve) => udp.send(initialLike, port, '127.0.0.1', () => resolve()));
    udp.close();

    const outbound = await client.transport.dial(address, server.keyPair.id as never);
    const inbound = await next();
    expect(inbound.remoteNode).toBe(client.keyPair.id);
    outbound.abort();
  });

  it('times out a dial to a port where nobody answers', async () => {
    const udp = createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', () => resolve()));
    const port = udp.address().port;
    try {
      const client = transport({ handshakeTimeoutMs: 500 });
      const expected = KeyPair.generate().id as never;
      await expect(client.transport.dial(`quic://127.0.0.1:${port}`, expected)).rejects.toBeInstanceOf(
        HandshakeError,
      );
    } finally {
      udp.close();
    }
  });

  it('a closed listener refuses new callers but keeps its live connections', async () => {
    const { server, address, listener, outbound, inbound } = await connectedPair();
    const [atClient, atServer] = [new Sink(), new Sink()];
    outbound.setHandlers(atClient);
    inbound.setHandlers(atServer);
    await listener.close();
    const late = transport();
    await expect(late.transport.dial(address, server.keyPair.id as never)).rejects.toBeInstanceOf(
      PeerDeniedError,
    );
    outbound.write(Buffer.from('still here'));
    await expect
      .poll(() => atServer.text(), { message: 'the live connection to keep working' })
      .toBe('still here');
  });
});
