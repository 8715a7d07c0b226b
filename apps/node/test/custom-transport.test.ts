import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryNetwork } from '@netmachine/transport';
import { tls } from '@netmachine/transport-tls';
import { afterEach, describe, expect, it } from 'vitest';
import { readConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { createNode, type NetmachineNode } from '../src/node.js';
import { loop } from './fixtures/loop-transport.js';

/**
 * A transport is a plugin: one registered under a scheme of its own (`loop`) listens and dials
 * through createNode, from options and from a config file; a listen scheme no registered transport
 * serves is refused before anything starts.
 */
const nodes: NetmachineNode[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const node of nodes.splice(0)) await node.stop();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function requestAcross(a: NetmachineNode, b: NetmachineNode): Promise<void> {
  b.spawn('echo', (m, ctx) => ctx.reply(m, { echoed: m.body }));
  await a.addPeer(b.advert, { permanent: true });
  const reply = await a.client('asker').request({ node: b.id, name: 'echo' }, 'hello', { timeoutMs: 10_000 });
  expect(reply.body).toEqual({ echoed: 'hello' });
  const connected = a.transport.connectedNodes();
  expect(connected).toEqual([b.id]);
}

describe('a third-party transport under its own scheme', { timeout: 60_000 }, () => {
  it('listens and dials through createNode', async () => {
    const network = new MemoryNetwork();
    const make = async (name: string) => {
      const node = await createNode({
        config: { listen: [`loop://${name}`], transports: ['loop'], metrics: false },
        transports: [loop(network)],
      });
      nodes.push(node);
      await node.start();
      return node;
    };
    const a = await make('a');
    const b = await make('b');
    expect(b.advert.addrs.map((x) => x.url)).toEqual(['loop://b']);
    const connected = a.transport.events.once('peer:connected');
    await requestAcross(a, b);
    expect((await connected).protocol).toBe('loop');
  });

  it('listens and dials when the config file names it', async () => {
    const network = new MemoryNetwork();
    const dir = await mkdtemp(join(tmpdir(), 'nm-loop-'));
    dirs.push(dir);
    const make = async (name: string) => {
      const file = join(dir, `${name}.json`);
      await writeFile(
        file,
        JSON.stringify({ listen: [`loop://${name}`, 'tls://127.0.0.1:0'], transports: ['loop'] }),
      );
      const node = await createNode({ config: await readConfig(file), transports: [loop(network), tls()] });
      nodes.push(node);
      await node.start();
      return node;
    };
    const a = await make('c');
    const b = await make('d');
    expect(b.transport.listenAddresses[0]).toBe('loop://d');
    const connected = a.transport.events.once('peer:connected');
    await requestAcross(a, b);
    // The config's preference list puts loop first, though both nodes listen on TLS too.
    expect((await connected).protocol).toBe('loop');
  });

  it('refuses a listen scheme no registered transport serves, naming the field', async () => {
    const attempt = createNode({ config: { listen: ['loop://e'], metrics: false }, transports: [tls()] });
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow(/listen\.0: .*no transport registered.*registered: tls/);
  });
});
