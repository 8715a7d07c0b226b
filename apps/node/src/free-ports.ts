import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';

/** The lowest port a pinned address gets: above the range most services are configured on. */
const PINNED_PORT_FLOOR = 20_000;
/** Random ports tried below the ephemeral range before falling back to one the OS picks. */
const PINNED_PORT_TRIES = 32;

/**
 * Replaces port 0 in listen URLs with a currently free port, so a config names stable addresses.
 *
 * The port comes from below the OS's ephemeral range where that range is known (Linux): the kernel
 * hands ephemeral ports to every outgoing connection and every listen on port 0, so a pinned port
 * inside it can be taken by another socket whenever its node is not running (a restart, a reboot),
 * and the node then fails to listen where its advert says it is.
 */
export async function pinFreePorts(urls: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const text of urls) {
    const url = new URL(text);
    if (url.port !== '0' || url.protocol === 'memory:') {
      out.push(text);
      continue;
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const bind = url.protocol === 'quic:' ? bindUdp : bindTcp;
    url.port = String(await freePortOutsideEphemeral(host, bind));
    out.push(url.toString().replace(/\/$/, ''));
  }
  return out;
}

/** Binds `port` (0: the OS picks one) and releases it; resolves with the port, or undefined if taken. */
type Probe = (host: string, port: number) => Promise<number | undefined>;

async function freePortOutsideEphemeral(host: string, bind: Probe): Promise<number> {
  const ephemeralLow = await lowestEphemeralPort();
  if (ephemeralLow !== undefined && ephemeralLow > PINNED_PORT_FLOOR + 1) {
    for (let i = 0; i < PINNED_PORT_TRIES; i++) {
      const port = await bind(host, randomInt(PINNED_PORT_FLOOR, ephemeralLow));
      if (port !== undefined) return port;
    }
  }
  const port = await bind(host, 0);
  if (port === undefined) throw new Error(`no free port on ${host}`);
  return port;
}

/** The first port of the OS's ephemeral range (Linux), or undefined where it cannot be read. */
async function lowestEphemeralPort(): Promise<number | undefined> {
  const text = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '');
  const low = Number(text.trim().split(/\s+/)[0]);
  return Number.isInteger(low) && low > 0 ? low : undefined;
}

function bindTcp(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') resolve(undefined);
      else reject(error);
    });
    server.listen(port, host, () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}

function bindUdp(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    socket.once('error', (error: NodeJS.ErrnoException) => {
      socket.close();
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') resolve(undefined);
      else reject(error);
    });
    socket.bind(port, host, () => {
      const bound = socket.address().port;
      socket.close(() => resolve(bound));
    });
  });
}
