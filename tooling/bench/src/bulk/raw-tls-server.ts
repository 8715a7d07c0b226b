// The raw-tls peer of storage-fetch, serving side: a node:tls server that sends OBJECT_MIB of random
// bytes (in 1 MiB writes) to the first client, then its SHA-256, and exits. Prints its port on stdout.
// It waits for `drain` whenever a write reports a full buffer, as a competent user of node:tls would:
// queueing all 64 MiB at once makes the stream (and so the peer's figure) swing with memory pressure.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type TLSSocket } from 'node:tls';
import { selfSignedPem } from '../systems/certificate.js';

const CHUNK = 2 ** 20;
const mib = Number(process.env.OBJECT_MIB ?? 64);
const data = randomBytes(mib * CHUNK);
const digest = createHash('sha256').update(data).digest();
const { certPem, keyPem } = await selfSignedPem();

async function stream(socket: TLSSocket): Promise<void> {
  for (let offset = 0; offset < data.length; offset += CHUNK) {
    if (!socket.write(data.subarray(offset, offset + CHUNK))) await once(socket, 'drain');
  }
  socket.end(digest);
}

const server = createServer({ cert: certPem, key: keyPem, minVersion: 'TLSv1.3' }, (socket) => {
  server.close();
  stream(socket).catch(() => socket.destroy());
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
});
