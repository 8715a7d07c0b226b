// The relay B of the relayed scenarios, in its own process: a node that relays for anyone with
// limits far above what a run sends. Prints its advert once listening; stops on SIGTERM.
import { createNode } from '@netmachine/node';
import { type RelayService, relay } from '@netmachine/relay';
import { tls } from '@netmachine/transport-tls';

const unlimited = { messagesPerSecond: 1e9, bytesPerSecond: 1e12 };
const node = await createNode({
  transports: [tls()],
  listen: ['tls://127.0.0.1:0'],
  services: {
    relay: relay({ offer: { policy: { kind: 'anyone' }, perSource: unlimited, total: unlimited } }),
  },
});
await node.start();
const cpuBefore = process.cpuUsage();
process.stdout.write(`${JSON.stringify({ advert: node.advertText })}\n`);
process.once('SIGTERM', () => {
  if (process.env.BENCH_VERBOSE) {
    // The relay's CPU time from listening to the end, and what it passed on in that time.
    const used = process.cpuUsage(cpuBefore);
    const { forwarded, heldBack, refused } = (node.services as { relay: RelayService }).relay.counters();
    const cpuMs = Math.round((used.user + used.system) / 1000);
    process.stderr.write(`${JSON.stringify({ relay: { cpuMs, forwarded, heldBack, refused } })}\n`);
  }
  void node.stop().then(() => process.exit(0));
});
