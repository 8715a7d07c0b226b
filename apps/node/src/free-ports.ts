import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/** Replaces port 0 in listen URLs with a currently free port, so a config names stable addresses. */
export async function pinFreePorts(urls: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const text of urls) {
    const url = new URL(text);
    if (url.port !== '0' || url.protocol === 'memory:') {
      out.push(text);
      continue;
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = url.protocol === 'quic:' ? await freeUdpPort(host) : await freeTcpPort(host);
    url.port = String(port);
    out.push(url.toString().replace(/\/$/, ''));
  }
  return out;
}

function freeTcpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function freeUdpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    socket.once('error', reject);
    socket.bind(0, host, () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}
