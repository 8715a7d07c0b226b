// The middle process of the `raw-tls` peer in the relayed scenarios: a TLS forwarder written as a
// competent user of node:tls would write one. A client opens a TLS connection to it and sends the
// target's port (u16) first; the forwarder dials the target over TLS and pipes bytes both ways, with
// the streams' own backpressure. Nothing is decrypted beyond TLS and nothing is reframed: it is the
// floor under any relay over node:tls on loopback. Prints its port once listening; stops on SIGTERM.
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { createSecureContext, createServer, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { selfSignedPem } from '../systems/certificate.js';

/** The header a client sends first: the target's port. */
const HEADER_BYTES = 2;

const { certPem, keyPem } = await selfSignedPem();
const tlsOptions = { cert: certPem, key: keyPem, minVersion: 'TLSv1.3' as const };
const secureContext = createSecureContext(tlsOptions);
const sockets = new Set<TLSSocket>();

function track(socket: TLSSocket): void {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => socket.destroy());
}

function forward(inbound: TLSSocket): void {
  track(inbound);
  let head = Buffer.alloc(0);
  const onHeader = (chunk: Buffer): void => {
    head = Buffer.concat([head, chunk]);
    if (head.length < HEADER_BYTES) return;
    inbound.off('data', onHeader);
    inbound.pause();
    const port = head.readUInt16BE(0);
    const rest = head.subarray(HEADER_BYTES);
    const outbound = tlsConnect({ host: '127.0.0.1', port, secureContext, rejectUnauthorized: false });
    track(outbound);
    outbound.once('secureConnect', () => {
      outbound.setNoDelay(true);
      if (rest.length > 0) outbound.write(rest);
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
    // One side gone: the other goes too.
    inbound.once('close', () => outbound.destroy());
    outbound.once('close', () => inbound.destroy());
  };
  inbound.on('data', onHeader);
}

const server = createServer({ ...tlsOptions, requestCert: true, rejectUnauthorized: false }, forward);
server.on('connection', (tcp: Socket) => tcp.setNoDelay(true));
server.listen(0, '127.0.0.1');
await once(server, 'listening');
process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
process.once('SIGTERM', () => {
  for (const socket of sockets) socket.destroy();
  server.close(() => process.exit(0));
});
