import { once } from 'node:events';
import { type AddressInfo, connect as netConnect, type Socket } from 'node:net';
import { createServer, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { FrameSplitter, frame } from '../payload.js';
import { selfSignedPem } from './certificate.js';
import type { Endpoint, Link, SystemFactory } from './types.js';

/**
 * The floor under our TLS transport: node:tls, one length-prefixed write per message, no batching,
 * no protocol. Both sides present a self-signed certificate (mutual TLS, as netmachine does).
 */
export const rawTls: SystemFactory = async () => {
  const { certPem, keyPem } = await selfSignedPem();
  const tlsOptions = { cert: certPem, key: keyPem, minVersion: 'TLSv1.3' as const };

  function wire(socket: TLSSocket, onMessage: ((payload: Uint8Array) => void) | undefined, echo: boolean) {
    socket.setNoDelay(true);
    const splitter = new FrameSplitter((payload) => {
      onMessage?.(payload);
      if (echo) socket.write(frame(payload));
    });
    socket.on('data', (chunk: Buffer) => splitter.push(chunk));
    socket.on('error', () => socket.destroy());
  }

  function linkOf(socket: TLSSocket): Link {
    return {
      send: (payload) => socket.write(frame(payload)),
      drained: () => once(socket, 'drain').then(() => {}),
      close: async () => {
        if (socket.destroyed) return;
        socket.end();
        await once(socket, 'close');
      },
    };
  }

  return {
    async listen({ onMessage, echo = false }): Promise<Endpoint> {
      const sockets = new Set<TLSSocket>();
      const server = createServer(
        { ...tlsOptions, requestCert: true, rejectUnauthorized: false },
        (socket) => {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          wire(socket, onMessage, echo);
        },
      );
      // Nagle must be off from the first byte: left on during the handshake, the first message after
      // it can wait for a delayed ACK (~40 ms), which the connect scenario would measure.
      server.on('connection', (tcp: Socket) => tcp.setNoDelay(true));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as AddressInfo;
      return {
        info: { port },
        close: async () => {
          for (const socket of sockets) socket.destroy();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        },
      };
    },

    async connect({ target, onMessage }): Promise<Link> {
      const { port } = target as { port: number };
      const tcp = netConnect({ host: '127.0.0.1', port, noDelay: true });
      const socket = tlsConnect({ ...tlsOptions, socket: tcp, rejectUnauthorized: false });
      await once(socket, 'secureConnect');
      wire(socket, onMessage, false);
      return linkOf(socket);
    },
  };
};
