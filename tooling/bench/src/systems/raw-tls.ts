import { once } from 'node:events';
import { type AddressInfo, connect as netConnect, type Socket } from 'node:net';
import { createSecureContext, createServer, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { FrameSplitter, frame } from '../payload.js';
import { selfSignedPem } from './certificate.js';
import { EndToEndSeal } from './end-to-end-seal.js';
import type { Endpoint, Link, SystemAdapter, SystemFactory } from './types.js';

/** Bytes a batched link gathers before it writes: at least 16 KiB per `write`. */
const COALESCE_BYTES = 16 * 1024;

/**
 * A link that appends length-prefixed frames to one buffer and writes it once it holds 16 KiB, or on
 * the next turn of the event loop when fewer are waiting (so a lone message is not held back). This
 * is how a competent user of node:tls streams small messages: one TLS record and one syscall per 16 KiB
 * instead of per message.
 */
function batchedLinkOf(socket: TLSSocket): Link {
  let buffer = Buffer.allocUnsafe(COALESCE_BYTES * 2);
  let used = 0;
  let scheduled = false;
  const flush = (): boolean => {
    scheduled = false;
    if (used === 0 || socket.destroyed) return true;
    const out = buffer.subarray(0, used);
    // The written bytes belong to the socket until written: start a fresh buffer.
    buffer = Buffer.allocUnsafe(COALESCE_BYTES * 2);
    used = 0;
    return socket.write(out);
  };
  return {
    send(payload) {
      if (used + 4 + payload.length > buffer.length) flush();
      if (4 + payload.length > buffer.length) return socket.write(frame(payload));
      buffer.writeUInt32BE(payload.length, used);
      buffer.set(payload, used + 4);
      used += 4 + payload.length;
      if (used >= COALESCE_BYTES) return flush();
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
      return true;
    },
    drained: () => once(socket, 'drain').then(() => {}),
    close: async () => {
      flush();
      if (socket.destroyed) return;
      socket.end();
      await once(socket, 'close');
    },
  };
}

/**
 * The floor under our TLS transport: node:tls, one length-prefixed write per message, no batching,
 * no protocol. Both sides present a self-signed certificate (mutual TLS, as netmachine does).
 */
export const rawTls: SystemFactory = (config) => rawTlsSystem(false, config.via, config.sealKey);

/** `raw-tls-batched`: the same, with length-prefixed frames coalesced into ≥ 16 KiB writes. */
export const rawTlsBatched: SystemFactory = () => rawTlsSystem(true);

/** `raw-tls-sealed`: `raw-tls` with every message sealed end to end (see `EndToEndSeal`). */
export const rawTlsSealed: SystemFactory = (config) => {
  if (config.sealKey === undefined) throw new Error('raw-tls-sealed needs a sealKey');
  return rawTlsSystem(false, config.via, config.sealKey);
};

/**
 * `via`: dial the TLS forwarder at this port instead of the target and name the target's port in a
 * 2-byte header first (the relayed scenarios' `raw-tls` peer, A → forwarder → C). `sealKey`: seal
 * every message end to end under this key (hex), the listening side opening and sealing its echo.
 */
async function rawTlsSystem(
  batched: boolean,
  via?: { readonly port: number },
  sealKey?: string,
): Promise<SystemAdapter> {
  const { certPem, keyPem } = await selfSignedPem();
  const tlsOptions = { cert: certPem, key: keyPem, minVersion: 'TLSv1.3' as const };
  // The dialer keeps one secure context for every connection, as a user of node:tls would: passing
  // the PEM on each connect parses the key and certificate again per handshake. (The server makes
  // its context once anyway.)
  const secureContext = createSecureContext(tlsOptions);

  function wire(
    socket: TLSSocket,
    onMessage: ((payload: Uint8Array) => void) | undefined,
    echo: boolean,
    seal: EndToEndSeal | undefined,
  ) {
    socket.setNoDelay(true);
    const splitter = new FrameSplitter((received) => {
      const payload = seal === undefined ? received : seal.open(received);
      onMessage?.(payload);
      if (echo) socket.write(frame(seal === undefined ? payload : seal.seal(payload)));
    });
    socket.on('data', (chunk: Buffer) => splitter.push(chunk));
    socket.on('error', () => socket.destroy());
  }

  function linkOf(socket: TLSSocket, seal: EndToEndSeal | undefined): Link {
    return {
      send: (payload) => socket.write(frame(seal === undefined ? payload : seal.seal(payload))),
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
          wire(socket, onMessage, echo, sealKey === undefined ? undefined : new EndToEndSeal(sealKey, 1));
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
      const tcp = netConnect({ host: '127.0.0.1', port: via?.port ?? port, noDelay: true });
      const socket = tlsConnect({
        secureContext,
        minVersion: 'TLSv1.3',
        socket: tcp,
        rejectUnauthorized: false,
      });
      await once(socket, 'secureConnect');
      if (via !== undefined) {
        const header = Buffer.alloc(2);
        header.writeUInt16BE(port);
        socket.write(header);
      }
      const seal = sealKey === undefined ? undefined : new EndToEndSeal(sealKey, 0);
      wire(socket, onMessage, false, seal);
      return batched ? batchedLinkOf(socket) : linkOf(socket, seal);
    },
  };
}
