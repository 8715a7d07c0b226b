// The raw-tls peer of storage-fetch, serving side: a node:tls server that sends OBJECT_MIB of random
// bytes (in 1 MiB writes) to the first client, then its SHA-256, and exits. Prints its port on stdout.
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:tls';
import { selfSignedPem } from '../systems/certificate.js';

const mib = Number(process.env.OBJECT_MIB ?? 64);
const data = randomBytes(mib * 2 ** 20);
const digest = createHash('sha256').update(data).digest();
const { certPem, keyPem } = await selfSignedPem();
const server = createServer({ cert: certPem, key: keyPem, minVersion: 'TLSv1.3' }, (socket) => {
  for (let offset = 0; offset < data.length; offset += 2 ** 20)
    socket.write(data.subarray(offset, offset + 2 ** 20));
  socket.end(digest);
  server.close();
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
});
