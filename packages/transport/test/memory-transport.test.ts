import {
  ConnectionClosedError,
  InvalidAddressError,
  KeyPair,
  noopLogger,
  PeerDeniedError,
  PeerKeyMismatchError,
} from '@netmachine/core';
import { ConnectionProbe } from '@netmachine/transport/testing';
import { describe, expect, it } from 'vitest';
import { MemoryNetwork, memory } from '../src/index.js';

function pair(options: Parameters<typeof memory>[0] = {}) {
  const network = options.network ?? new MemoryNetwork();
  const [a, b] = [KeyPair.generate(), KeyPair.generate()];
  return {
    a,
    b,
    ta: memory({ ...options, network })({ keyPair: a, logger: noopLogger }),
    tb: memory({ ...options, network })({ keyPair: b, logger: noopLogger }),
  };
}

describe('memory transport', () => {
  it('refuses a name in use, a bad address, and a dial to nobody', async () => {
    const { a, ta, tb } = pair();
    await ta.listen('memory://n1', () => {});
    await expect(tb.listen('memory://n1', () => {})).rejects.toBeInstanceOf(InvalidAddressError);
    await expect(tb.listen('tcp://x', () => {})).rejects.toBeInstanceOf(InvalidAddressError);
    await expect(tb.dial('memory://nobody', a.id)).rejects.toBeInstanceOf(ConnectionClosedError);
    await Promise.all([ta.close(), tb.close()]);
  });

  it('types its refusals: wrong key, and a caller the listener denies', async () => {
    const { a, ta, tb } = pair();
    await ta.listen('memory://typed', () => {}, { acceptPeer: () => false });
    await expect(tb.dial('memory://typed', KeyPair.generate().id)).rejects.toBeInstanceOf(
      PeerKeyMismatchError,
    );
    await expect(tb.dial('memory://typed', a.id)).rejects.toBeInstanceOf(PeerDeniedError);
    await Promise.all([ta.close(), tb.close()]);
  });

  it('holds writes until the reader sets its handlers', async () => {
    const { a, ta, tb } = pair({ highWaterMark: 8 });
    let accepted: ConnectionProbe | undefined;
    let inbound: Parameters<Parameters<typeof ta.listen>[1]>[0] | undefined;
    await ta.listen('memory://late', (c) => {
      inbound = c;
    });
    const client = new ConnectionProbe(await tb.dial('memory://late', a.id));
    expect(client.connection.write(Buffer.from('0123456789'))).toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(client.connection.bufferedBytes).toBe(10);
    accepted = new ConnectionProbe(inbound!);
    await accepted.until(() => accepted!.received === 10, 'held bytes');
    await client.until(() => client.drains === 1, 'drain');
    await Promise.all([ta.close(), tb.close()]);
  });

  it('drops whole writes at the loss rate', async () => {
    let n = 0;
    // Deterministic "randomness": every other write is lost.
    const { a, ta, tb } = pair({ lossRate: 0.5, random: () => (n++ % 2 === 0 ? 0.9 : 0.1) });
    const inbox: ConnectionProbe[] = [];
    await ta.listen('memory://lossy', (c) => inbox.push(new ConnectionProbe(c)));
    const client = await tb.dial('memory://lossy', a.id);
    for (let i = 0; i < 10; i++) client.write(Buffer.from([i]));
    const server = inbox[0]!;
    await server.until(() => server.received === 5, 'the surviving writes');
    await client.close();
    await server.until(() => server.closed, 'close');
    expect([...server.bytes()]).toEqual([0, 2, 4, 6, 8]);
    await Promise.all([ta.close(), tb.close()]);
  });

  it('closing a transport aborts its connections and the peers see an error', async () => {
    const { a, ta, tb } = pair();
    const inbox: ConnectionProbe[] = [];
    await ta.listen('memory://closing', (c) => inbox.push(new ConnectionProbe(c)));
    const client = new ConnectionProbe(await tb.dial('memory://closing', a.id));
    await ta.close();
    await client.until(() => client.closed, 'close at the dialer');
    expect(client.closeError).toBeInstanceOf(ConnectionClosedError);
    await expect(tb.dial('memory://closing', a.id)).rejects.toBeInstanceOf(ConnectionClosedError);
    await tb.close();
  });
});
