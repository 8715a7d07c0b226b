import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import {
  AbortedError,
  KeyPair,
  NetmachineError,
  type NodeId,
  PeerKeyMismatchError,
  type Transport,
} from '@netmachine/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { SocketTransportStats } from '../socket-transport.js';
import { addressCases } from './compliance-address-cases.js';
import { listenerProcessCases } from './compliance-process-cases.js';
import type {
  ComplianceOptions,
  ComplianceSetup,
  ComplianceSuite,
  ConnectedPair,
} from './compliance-setup.js';
import { ConnectionProbe, Inbox, pattern, WAIT_MS } from './compliance-tools.js';

export { ConnectionProbe, listenOn, Sink, writeAll } from './compliance-tools.js';

/**
 * Reads the shared counters of a transport built on SocketTransport (TLS, QUIC): a fresh snapshot per
 * call, so polls see changes. Undefined for other transports.
 */
function socketStats(transport: Transport): (() => Readonly<SocketTransportStats>) | undefined {
  const counters = (transport as { counters?: () => Readonly<SocketTransportStats> }).counters;
  if (typeof counters !== 'function') return undefined;
  const read = (): Readonly<SocketTransportStats> => counters.call(transport);
  return typeof read().openConnections === 'number' ? read : undefined;
}

export function runTransportCompliance(
  name: string,
  setup: () => Promise<ComplianceSetup>,
  options: ComplianceOptions = {},
): void {
  const timeout = options.timeoutMs ?? 60_000;
  const largeBytes = options.largeBytes ?? 8 * 1024 * 1024;
  const messageCount = options.messages ?? 10_000;

  describe(`transport compliance: ${name}`, () => {
    let current: ComplianceSetup | undefined;
    const extraTransports: Transport[] = [];
    let child: ChildProcess | undefined;

    afterEach(async () => {
      if (child !== undefined && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
      child = undefined;
      await Promise.allSettled(extraTransports.splice(0).map((transport) => transport.close()));
      const s = current;
      current = undefined;
      if (s === undefined) return;
      await Promise.allSettled([s.dialer.transport.close(), s.listener.transport.close()]);
      await s.cleanup?.();
    });

    /** Makes a setup, closed after the case. */
    async function setUp(): Promise<ComplianceSetup> {
      const s = await setup();
      current = s;
      return s;
    }

    /** Sets up, listens, dials once: the starting point of most cases. */
    async function connected(): Promise<ConnectedPair> {
      const s = await setUp();
      const inbox = new Inbox();
      const listener = await s.listener.transport.listen(s.listenAddress, inbox.accept);
      const address = listener.addresses[0]!;
      const connection = await s.dialer.transport.dial(address, s.listener.keyPair.id);
      const client = new ConnectionProbe(connection);
      const server = await inbox.next(0);
      return { s, address, inbox, client, server };
    }

    const suite: ComplianceSuite = {
      timeout,
      setUp,
      connected,
      track: (transport) => extraTransports.push(transport),
      trackChild: (process) => {
        child = process;
      },
    };

    it('listens on a real address and authenticates both ends', { timeout }, async () => {
      const { s, address, client, server } = await connected();
      expect(address.startsWith(`${s.listener.transport.protocol}://`)).toBe(true);
      expect(client.connection.remoteNode).toBe(s.listener.keyPair.id);
      expect(server.connection.remoteNode).toBe(s.dialer.keyPair.id);
      expect(client.connection.direction).toBe('outbound');
      expect(server.connection.direction).toBe('inbound');
      expect(client.connection.protocol).toBe(s.dialer.transport.protocol);
      expect(typeof server.connection.remoteAddress).toBe('string');
      const [listening, dialing] = [socketStats(s.listener.transport), socketStats(s.dialer.transport)];
      if (listening !== undefined && dialing !== undefined) {
        expect([listening().inboundAccepted, listening().openConnections]).toEqual([1, 1]);
        expect([dialing().outboundEstablished, dialing().openConnections]).toEqual([1, 1]);
      }
    });

    it('sends both ways', { timeout }, async () => {
      const { client, server } = await connected();
      client.connection.write(Buffer.from('hello from the dialer'));
      server.connection.write(Buffer.from('hello from the listener'));
      await server.until(() => server.received >= 21, 'data at the listener');
      await client.until(() => client.received >= 23, 'data at the dialer');
      expect(server.bytes().toString()).toBe('hello from the dialer');
      expect(client.bytes().toString()).toBe('hello from the listener');
    });

    it('carries a large frame intact', { timeout }, async () => {
      const { client, server } = await connected();
      const big = pattern(largeBytes, 7);
      const scratch = Buffer.from(big);
      client.connection.write(scratch);
      // The transport must have copied or sent the bytes: reusing the buffer must not corrupt them.
      scratch.fill(0);
      await server.until(() => server.received >= largeBytes, 'the large frame');
      expect(server.received).toBe(largeBytes);
      expect(server.bytes().equals(big)).toBe(true);
    });

    it('delivers many concurrent small writes complete and in order, both ways', { timeout }, async () => {
      const { client, server } = await connected();
      const record = 16;
      const encode = (i: number, tag: number): Buffer => {
        const b = Buffer.alloc(record, tag);
        b.writeUInt32BE(i, 0);
        return b;
      };
      for (let i = 0; i < messageCount; i++) {
        client.connection.write(encode(i, 0xa1));
        server.connection.write(encode(i, 0xb2));
      }
      const total = messageCount * record;
      await server.until(() => server.received >= total, 'all messages at the listener');
      await client.until(() => client.received >= total, 'all messages at the dialer');
      for (const [probe, tag] of [
        [server, 0xa1],
        [client, 0xb2],
      ] as const) {
        const bytes = probe.bytes();
        expect(bytes.length).toBe(total);
        for (let i = 0; i < messageCount; i++) {
          const at = i * record;
          if (bytes.readUInt32BE(at) !== i || bytes[at + record - 1] !== tag) {
            expect.fail(`message ${i} out of order or damaged`);
          }
        }
      }
    });

    it('applies backpressure: write returns false, then onDrain fires', { timeout }, async () => {
      const { client, server } = await connected();
      const chunk = pattern(64 * 1024, 3);
      let written = 0;
      let refused = false;
      // Synchronous writes cannot drain, so any bounded buffer fills well before 256 MiB.
      while (written < 256 * 1024 * 1024) {
        written += chunk.length;
        if (!client.connection.write(chunk)) {
          refused = true;
          break;
        }
      }
      expect(refused).toBe(true);
      expect(client.connection.bufferedBytes).toBeGreaterThan(0);
      await client.until(() => client.drains > 0, 'onDrain');
      await server.until(() => server.received >= written, 'every byte written');
      expect(server.received).toBe(written);
    });

    it('close flushes what was written, and both sides see a clean close', { timeout }, async () => {
      const { s, client, server } = await connected();
      const data = pattern(1024 * 1024, 11);
      client.connection.write(data);
      await client.connection.close();
      await server.until(() => server.closed, 'close at the listener');
      expect(server.bytes().equals(data)).toBe(true);
      expect(server.closeError).toBeUndefined();
      await client.until(() => client.closed, 'close at the dialer');
      expect([client.closeCount, server.closeCount]).toEqual([1, 1]);
      expect(client.connection.write(Buffer.from('after close'))).toBe(false);
      const [listening, dialing] = [socketStats(s.listener.transport), socketStats(s.dialer.transport)];
      if (listening !== undefined && dialing !== undefined) {
        expect(dialing().openConnections).toBe(0);
        await expect
          .poll(() => listening().openConnections, { message: 'the listener to forget it', timeout: WAIT_MS })
          .toBe(0);
      }
    });

    it('abort closes at once and the peer sees an error', { timeout }, async () => {
      const { client, server } = await connected();
      client.connection.write(Buffer.from('before abort'));
      await server.until(() => server.received > 0, 'data before the abort');
      client.connection.abort(new Error('test abort'));
      await server.until(() => server.closed, 'close at the listener');
      expect(server.closeError).toBeInstanceOf(Error);
      await client.until(() => client.closed, 'close at the dialer');
    });

    it('reconnects after a close', { timeout }, async () => {
      const { s, address, inbox, client, server } = await connected();
      client.connection.write(Buffer.from('one'));
      await server.until(() => server.received >= 3, 'first data');
      await client.connection.close();
      await server.until(() => server.closed, 'first close');
      const again = new ConnectionProbe(await s.dialer.transport.dial(address, s.listener.keyPair.id));
      const server2 = await inbox.next(1);
      expect(server2.connection.remoteNode).toBe(s.dialer.keyPair.id);
      again.connection.write(Buffer.from('two'));
      server2.connection.write(Buffer.from('back'));
      await server2.until(() => server2.received >= 3, 'second data');
      await again.until(() => again.received >= 4, 'reply on the second connection');
      expect(server2.bytes().toString()).toBe('two');
      expect(again.bytes().toString()).toBe('back');
    });

    it('rejects a listener whose key is not the expected one', { timeout }, async () => {
      const s = await setUp();
      const inbox = new Inbox();
      const listener = await s.listener.transport.listen(s.listenAddress, inbox.accept);
      const address = listener.addresses[0]!;
      const stranger = KeyPair.generate().id;
      const error = await s.dialer.transport.dial(address, stranger).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(PeerKeyMismatchError);
      expect((error as PeerKeyMismatchError).expected).toBe(stranger);
      expect((error as PeerKeyMismatchError).actual).toBe(s.listener.keyPair.id);
      const [listening, dialing] = [socketStats(s.listener.transport), socketStats(s.dialer.transport)];
      if (listening !== undefined && dialing !== undefined) {
        expect(dialing().dialFailures).toBe(1);
        // The listener saw a caller leave without confirming its key.
        await expect
          .poll(() => listening().handshakeFailures, {
            message: 'the listener to drop the caller',
            timeout: WAIT_MS,
          })
          .toBe(1);
      }
      // A later good dial is the first (and only) connection the listener hands out.
      const good = new ConnectionProbe(await s.dialer.transport.dial(address, s.listener.keyPair.id));
      good.connection.write(Buffer.from('ok'));
      const server = await inbox.next(0);
      await server.until(() => server.received >= 2, 'data on the good connection');
      expect(server.bytes().toString()).toBe('ok');
      expect(inbox.probes.length).toBe(1);
    });

    it('refuses a caller when acceptPeer says no', { timeout }, async () => {
      const s = await setUp();
      const inbox = new Inbox();
      const seen: NodeId[] = [];
      let allow = false;
      const listener = await s.listener.transport.listen(s.listenAddress, inbox.accept, {
        acceptPeer: (node) => {
          seen.push(node);
          return allow;
        },
      });
      const address = listener.addresses[0]!;
      const expected = s.listener.keyPair.id;
      const refused = await s.dialer.transport.dial(address, expected).then(
        // A transport may only learn of the refusal after connecting: then the connection must
        // close with an error before carrying anything.
        async (connection) => {
          const probe = new ConnectionProbe(connection);
          await probe.until(() => probe.closed, 'the refused connection to close');
          expect(probe.received).toBe(0);
          return probe.closeError;
        },
        (e: unknown) => e,
      );
      expect(refused).toBeInstanceOf(Error);
      expect(seen).toEqual([s.dialer.keyPair.id]);
      const listening = socketStats(s.listener.transport);
      if (listening !== undefined) expect(listening().peersRefused).toBe(1);
      allow = true;
      const good = new ConnectionProbe(await s.dialer.transport.dial(address, expected));
      good.connection.write(Buffer.from('let in'));
      const server = await inbox.next(0);
      await server.until(() => server.received >= 6, 'data once allowed');
      expect(inbox.probes.length).toBe(1);
    });

    it('honours an abort signal on dial', { timeout }, async () => {
      const s = await setUp();
      const listener = await s.listener.transport.listen(s.listenAddress, () => {});
      const expected = s.listener.keyPair.id as NodeId;
      await expect(
        s.dialer.transport.dial(listener.addresses[0]!, expected, { signal: AbortSignal.abort() }),
      ).rejects.toBeInstanceOf(AbortedError);
    });

    it('closing the transport closes its connections and refuses new work', { timeout }, async () => {
      const { s, address, client, server } = await connected();
      await s.dialer.transport.close();
      await server.until(() => server.closed, 'the listener side to close');
      await client.until(() => client.closed, 'the dialer side to close');
      expect(client.connection.write(Buffer.from('late'))).toBe(false);
      await expect(s.dialer.transport.dial(address, s.listener.keyPair.id as NodeId)).rejects.toBeInstanceOf(
        NetmachineError,
      );
    });

    if (options.hostPort) addressCases(suite);
    if (options.listenerProcess !== undefined) listenerProcessCases(suite, options.listenerProcess);
  });
}
