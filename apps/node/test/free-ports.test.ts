import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { pinFreePorts } from '../src/free-ports.js';

/** The first ephemeral port on Linux; undefined elsewhere. */
function ephemeralLow(): number | undefined {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return undefined;
  }
}

describe('pinFreePorts', () => {
  it('pins port 0 to a free port below the ephemeral range, and leaves other addresses alone', async () => {
    const pinned = await pinFreePorts([
      'tls://127.0.0.1:0',
      'quic://127.0.0.1:0',
      'tls://127.0.0.1:7100',
      'memory://a',
    ]);
    expect(pinned.slice(2)).toEqual(['tls://127.0.0.1:7100', 'memory://a']);
    const ports = pinned.slice(0, 2).map((url) => Number(new URL(url).port));
    const low = ephemeralLow();
    for (const port of ports) {
      expect(port).toBeGreaterThan(0);
      // Outside the range the kernel hands to outgoing connections and to listens on port 0.
      if (low !== undefined) expect(port).toBeLessThan(low);
    }
    // And free: a listener can take it.
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(ports[0], '127.0.0.1', resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  });
});
