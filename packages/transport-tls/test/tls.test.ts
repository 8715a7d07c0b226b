import { createHash, randomBytes } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { createServer as createTlsServer, connect as tlsConnect } from 'node:tls';
import { ConnectionClosedError, HandshakeError, KeyPair } from '@netmachine/core';
import { selfSignedCertificate } from '@netmachine/transport';
import { afterEach, describe, expect, it } from 'vitest';
import type { TlsTransport } from '../src/index.js';
import { listenOn, makeTransport, Sink, writeAll } from './helpers.js';

const open: TlsTransport[] = [];
function transport(options: Parameters<typeof makeTransport>[0] = {}, keyPair?: KeyPair) {
  const made = makeTransport(options, keyPair);
  open.push(made.transport);
  return made;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('tls transport', () => {
  it('connects with mutual authentication and carries bytes both ways', async () => {
    const server = transport();
    const client = transport();
    const { address, next } = await listenOn(server.transport);
    expect(address).toMatch(/^tls:\/\/127\.0\.0\.1:\d+$/);

    const outbound = await client.transport.dial(address, server.keyPair.id as never);
    const inbound = await next();
    expect(outbound.remoteNode).toBe(server.keyPair.id);
    expect(inbound.remoteNode).toBe(client.keyPair.id);
    expect([outbound.direction, inbound.direction]).toEqual(['outbound', 'inbound']);
    expect(outbound.protocol).toBe('tls');
    expect(inbound.remoteAddress).toMatch(/^tls:\/\/127\.0\.0\.1:\d+$/);

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

  it('sends the first bytes with the key confirmation, so the listener has them on hand-out', async () => {
    const server = transport();
    const client = transport();
    expect(client.transport.sendsFirstBytesEarly).toBe(true);
    const atHandOut: string[] = [];
    const sink = new Sink();
    const listener = await server.transport.listen('tls://127.0.0.1:0', (connection) => {
      // Bytes that came with the confirmation are delivered inside setHandlers, before it returns.
      connection.setHandlers(sink);
      atHandOut.push(sink.text());
    });
    const outbound = await client.transport.dial(listener.addresses[0]!, server.keyPair.id as never, {
      firstBytes: Buffer.from('connect-request'),
    });
    await expect.poll(() => atHandOut.length, { message: 'the inbound connection' }).toBe(1);
    expect(atHandOut[0]).toBe('connect-request');
    // They are sent once: what the dialer writes next follows them.
    outbound.write(Buffer.from(';next'));
    await expect.poll(() => sink.text(), { message: 'the next bytes' }).toBe('connect-request;next');
  });

  it('delivers bytes that arrived before setHandlers first, in order', async () => {
    const server = transport();
    const client = transport();
    const { address, next } = await listenOn(server.transport);
    const outbound = await client.transport.dial(address, server.keyPair.id as never);
    const inbound = await next();
    inbound.setHandlers(new Sink());
    inbound.write(Buffer.from('early-1;'));
    inbound.write(Buffer.from('early-2;'));
    await expect.poll(() => inbound.bufferedBytes, { message: 'flush' }).toBe(0);
    const sink = new Sink();
    outbound.setHandlers(sink);
    inbound.write(Buffer.from('late'));
    await expect
      .poll(() => sink.text(), { message: 'early bytes then late bytes' })
      .toBe('early-1;early-2;late');
  });

  it('moves large writes both ways intact, with backpressure', async () => {
    const server = transport({ highWaterMark: 64 * 1024 });
    const client = transport({ highWaterMark: 64 * 1024 });
    const { address, next } = await listenOn(server.transport);
    const outbound = await client.transport.dial(address, server.keyPair.id as never);
    const inbound = await next();
    const [atClient, atServer] = [new Sink(), new Sink()];
    outbound.setHandlers(atClient);
    inbound.setHandlers(atServer);

    const up = randomBytes(8 * 1024 * 1024);
    const down = randomBytes(3 * 1024 * 1024 + 17);
    // A single oversized write is queued (and reported as over the mark), never dropped.
    expect(inbound.write(down)).toBe(false);
    expect(inbound.bufferedBytes).toBeGreaterThan(0);
    await writeAll(outbound, atClient, up, 256 * 1024);
    await expect
      .poll(() => atServer.bytes === up.length && atClient.bytes === down.length, { message: 'all bytes' })
      .toBe(true);
    expect(sha(atServer.data())).toBe(sha(up));
    expect(sha(atClient.data())).toBe(sha(down));
    expect(atServer.drains + atClient.drains).toBeGreaterThan(0);
  });

  it('destroys a TCP caller that never starts the TLS handshake', async () => {
    const events: string[] = [];
    const server = transport({ handshakeTimeoutMs: 300 });
    server.transport.events.on('*', (event) => events.push(event.type));
    const { address, inbound } = await listenOn(server.transport);
    const port = Number(new URL(address).port);
    const silent = netConnect({ host: '127.0.0.1', port });
    silent.on('error', () => {});
    silent.resume();
    await new Promise((resolve) => silent.once('close', resolve));
    expect(server.transport.counters().handshakeTimeouts).toBe(1);
    expect(events).toContain('handshake:timeout');
    expect(inbound).toHaveLength(0);
  });

  it('drops a caller that completes TLS but never confirms the listener key', async () => {
    // Long enough for the TLS handshake itself on a busy machine; the silence after it is what times out.
    const server = transport({ handshakeTimeoutMs: 3_000 });
    const { address, inbound } = await listenOn(server.transport);
    const callerKey = KeyPair.generate();
    const cert = await selfSignedCertificate(callerKey);
    const port = Number(new URL(address).port);
    const caller = tlsConnect({
      host: '127.0.0.1',
      port,
      key: cert.keyPem,
      cert: cert.certPem,
      minVersion: 'TLSv1.3',
      rejectUnauthorized: false,
    });
    caller.on('error', () => {});
    const received: Buffer[] = [];
    caller.on('data', (chunk: Buffer) => received.push(chunk));
    await new Promise((resolve) => caller.once('close', resolve));
    // The listener accepted the key and said so, but handed nothing out without the confirmation.
    expect(Buffer.concat(received)[0]).toBe(0xa5);
    expect(server.transport.counters().handshakeTimeouts).toBe(1);
    expect(inbound).toHaveLength(0);
  });

  it('puts no encrypted session in its TLS tickets: no session is ever resumed', async () => {
    const server = transport();
    const { address, next } = await listenOn(server.transport);
    const callerKey = KeyPair.generate();
    const cert = await selfSignedCertificate(callerKey);
    const caller = tlsConnect({
      host: '127.0.0.1',
      port: Number(new URL(address).port),
      key: cert.keyPem,
      cert: cert.certPem,
      minVersion: 'TLSv1.3',
      rejectUnauthorized: false,
    });
    caller.on('error', () => {});
    caller.once('secureConnect', () => caller.write(Buffer.of(0xc3))); // the key confirmation
    // The listener writes its tickets when the handshake ends: before its acceptance byte.
    const accepted = await new Promise<number>((resolve) =>
      caller.once('data', (chunk: Buffer) => resolve(chunk[0]!)),
    );
    expect(accepted).toBe(0xa5);
    expect((await next()).remoteNode).toBe(callerKey.id);
    // A session id (32 bytes, or no ticket at all) costs nothing to make, where a stateless ticket
    // (about 500 bytes) encrypts the session and the caller's certificate.
    expect(caller.getTLSTicket()?.length ?? 0).toBeLessThanOrEqual(32);
    caller.destroy();
  });

  it('closes a plain-TCP garbage sender and keeps serving', async () => {
    const server = transport();
    const client = transport();
    const { address, next } = await listenOn(server.transport);
    const port = Number(new URL(address).port);
    const garbage = netConnect({ host: '127.0.0.1', port }, () => {
      garbage.write(randomBytes(4096));
      garbage.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    });
    garbage.on('error', () => {});
    garbage.resume();
    await new Promise((resolve) => garbage.once('close', resolve));
    await expect
      .poll(() => server.transport.counters().handshakeFailures, { message: 'the failure to be counted' })
      .toBe(1);

    const outbound = await client.transport.dial(address, server.keyPair.id as never);
    const inbound = await next();
    expect(inbound.remoteNode).toBe(client.keyPair.id);
    outbound.abort();
  });

  it('drops TCP callers beyond maxPendingHandshakes', async () => {
    const server = transport({ maxPendingHandshakes: 1 });
    const { address } = await listenOn(server.transport);
    const port = Number(new URL(address).port);
    const first = netConnect({ host: '127.0.0.1', port });
    first.on('error', () => {});
    await expect
      .poll(() => server.transport.counters().handshakesStarted, { message: 'the first handshake to start' })
      .toBe(1);
    const second = netConnect({ host: '127.0.0.1', port });
    second.on('error', () => {});
    second.resume();
    await new Promise((resolve) => second.once('close', resolve));
    expect(server.transport.counters().handshakesRefusedBusy).toBe(1);
    expect(first.destroyed).toBe(false);
    first.destroy();
  });

  it('rejects a dial when the listener completes TLS but never sends its acceptance', async () => {
    const serverKey = KeyPair.generate();
    const cert = await selfSignedCertificate(serverKey);
    const mute = createTlsServer({ key: cert.keyPem, cert: cert.certPem, minVersion: 'TLSv1.3' }, () => {});
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = mute.address() as { port: number };
      const client = transport({ handshakeTimeoutMs: 300 });
      await expect(
        client.transport.dial(`tls://127.0.0.1:${port}`, serverKey.id as never),
      ).rejects.toBeInstanceOf(HandshakeError);
    } finally {
      mute.close();
    }
  });

  it('fails a dial to a closed port', async () => {
    const server = transport();
    const client = transport();
    const { address, listener } = await listenOn(server.transport);
    await listener.close();
    await expect(client.transport.dial(address, server.keyPair.id as never)).rejects.toBeInstanceOf(
      ConnectionClosedError,
    );
  });

  it('close flushes queued bytes before the peer sees a clean close', async () => {
    const server = transport();
    const client = transport();
    const { address, next } = await listenOn(server.transport);
    const outbound = await client.transport.dial(address, server.keyPair.id as never);
    const inbound = await next();
    const [atClient, atServer] = [new Sink(), new Sink()];
    outbound.setHandlers(atClient);
    inbound.setHandlers(atServer);
    const payload = randomBytes(2 * 1024 * 1024);
    outbound.write(payload);
    await outbound.close();
    await expect.poll(() => atServer.closed && atClient.closed, { message: 'both sides closed' }).toBe(true);
    expect(sha(atServer.data())).toBe(sha(payload));
    expect(atServer.closeError).toBeUndefined();
    expect(atClient.closeError).toBeUndefined();
    expect(outbound.write(Buffer.from('after close'))).toBe(false);
    expect(client.transport.counters().openConnections).toBe(0);
  });

  it('abort resets at once: the aborting side gets its error, the peer sees an error', async () => {
    const server = transport();
    const client = transport();
    const { address, next } = await listenOn(server.transport);
    const outbound = await client.transport.dial(address, server.keyPair.id as never);
    const inbound = await next();
    const [atClient, atServer] = [new Sink(), new Sink()];
    outbound.setHandlers(atClient);
    inbound.setHandlers(atServer);
    const reason = new Error('enough');
    outbound.abort(reason);
    expect(atClient.closed).toBe(true);
    expect(atClient.closeError).toBe(reason);
    await expect.poll(() => atServer.closed, { message: 'the peer to see the close' }).toBe(true);
    expect(atServer.closeError).toBeInstanceOf(Error); // a reset, not a clean close
    await expect
      .poll(() => server.transport.counters().openConnections, { message: 'the server to forget it' })
      .toBe(0);
  });

  it('reports a close that happened before setHandlers once handlers are set', async () => {
    const server = transport();
    const client = transport();
    const { address, next } = await listenOn(server.transport);
    const outbound = await client.transport.dial(address, server.keyPair.id as never);
    const inbound = await next();
    inbound.write(Buffer.from('last words'));
    await inbound.close();
    await expect
      .poll(() => client.transport.counters().openConnections, { message: 'the client to see the close' })
      .toBe(0);
    const sink = new Sink();
    outbound.setHandlers(sink);
    expect(sink.text()).toBe('last words');
    expect(sink.closed).toBe(true);
  });
});
