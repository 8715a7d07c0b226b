import { KeyPair, noopLogger } from '@netmachine/core';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { MapSnapshots } from '../src/map/snapshot.js';
import { MetricsServer } from '../src/metrics.js';
import { createNode, defaultServices, type NetmachineNode } from '../src/node.js';
import { relayOptionsFromConfig } from '../src/relay-config.js';
import { nodeStatus } from '../src/status.js';

const base = { listen: ['tls://127.0.0.1:0'], transports: ['tls'], metrics: false };
const key = (): string => KeyPair.generate().id;

function problems(relay: unknown): readonly string[] {
  try {
    validateConfig({ ...base, relay });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  return [];
}

const started: NetmachineNode[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()));
});

describe('the relay section of the node config', () => {
  it('accepts an offer (policy and limits) and relays to use', () => {
    const allowed = key();
    const config = validateConfig({
      ...base,
      relay: {
        offer: {
          policy: { allow: [allowed] },
          perSource: { messagesPerSecond: 100, bytesPerSecond: 100_000 },
        },
        use: [key()],
        advertiseListen: false,
      },
    });
    const options = relayOptionsFromConfig(config.relay, () => false);
    expect(options.offer?.policy).toEqual({ kind: 'allow', nodes: [allowed] });
    expect(options.offer?.perSource?.messagesPerSecond).toBe(100);
    expect(options.offer?.multiHop).toBe(false);
    expect(options.use).toHaveLength(1);
    expect(validateConfig(base).relay).toEqual({ use: [], advertiseListen: true });
  });

  it('a domains policy asks the membership function', () => {
    const domain = key();
    const member = key();
    const config = validateConfig({ ...base, relay: { offer: { policy: { domains: [domain] } } } });
    const options = relayOptionsFromConfig(config.relay, (d, n) => d === domain && n === member);
    const policy = options.offer?.policy;
    expect(policy?.kind).toBe('domains');
    if (policy?.kind !== 'domains') return;
    expect(policy.isMember(policy.domains[0] as never, member as never)).toBe(true);
    expect(policy.isMember(policy.domains[0] as never, key() as never)).toBe(false);
  });

  it('names the field of each mistake', () => {
    expect(problems({ use: ['not-a-key'] })).toEqual([expect.stringMatching(/^relay\.use\.0: /)]);
    expect(problems({ offer: { policy: 'everyone' } })).toEqual([
      expect.stringMatching(/^relay\.offer\.policy: /),
    ]);
    expect(problems({ offer: { policy: { allow: [] } } })).toEqual([
      expect.stringMatching(/^relay\.offer\.policy/),
    ]);
    expect(
      problems({ offer: { policy: 'anyone', perSource: { messagesPerSecond: 0, bytesPerSecond: 1 } } }),
    ).toEqual([expect.stringMatching(/^relay\.offer\.perSource\.messagesPerSecond: /)]);
    expect(problems({ relays: [] })).not.toEqual([]);
  });

  it('a node from config advertises its relays, not its listen address, and reports relay counters', async () => {
    const relayNode = KeyPair.generate();
    const config = validateConfig({ ...base, relay: { use: [relayNode.id], advertiseListen: false } });
    const node = await createNode({ config, services: await defaultServices(config) });
    started.push(node);
    await node.start();
    expect(node.advert.addrs.map((a) => a.url)).toEqual([`relay://${relayNode.id}`]);
    expect(nodeStatus(node).services.relay).toMatchObject({ sealed: 0, forwarded: 0 });
  });
});

describe('relayed paths in status and on the map', () => {
  it('a peer reached through a relay shows as relayed via that relay', async () => {
    const config = (relay: object, peers: string[] = []) =>
      validateConfig({ ...base, relay, peers: peers.map((advert) => ({ advert })) });
    const start = async (c: ReturnType<typeof config>) => {
      const node = await createNode({ config: c, services: await defaultServices(c) });
      started.push(node);
      await node.start();
      return node;
    };
    const b = await start(config({ offer: { policy: 'anyone' } }));
    const c = await start(config({ use: [b.id], advertiseListen: false }, [b.advertText]));
    await expect
      .poll(() => (c.services.relay as { registeredWith(): string[] }).registeredWith())
      .toEqual([b.id]);
    const a = await start(config({}, [b.advertText, c.advertText]));
    c.spawn('echo', (m, ctx) => ctx.reply(m, m.body));
    const reply = await a.client('asker').request({ node: c.id, name: 'echo' }, 'hi');
    expect(reply.body).toBe('hi');
    const status = nodeStatus(a);
    expect(status.relayed).toEqual({ [c.id]: b.id });
    const snapshot = new MapSnapshots(() => nodeStatus(a)).take();
    expect(snapshot.peers.find((p) => p.id === c.id)).toMatchObject({
      path: 'relayed',
      via: b.id,
      rttMs: null,
    });
    expect(snapshot.peers.find((p) => p.id === b.id)).toMatchObject({ path: 'direct', via: null });
    expect(snapshot.edges).toContainEqual([b.id, c.id]);
    expect(status.transport.relayedOut).toBe(1);
    const metrics = new MetricsServer('127.0.0.1:0', () => nodeStatus(a), noopLogger, { map: false });
    expect(await metrics.registry.metrics()).toContain(
      'netmachine_relayed_messages_total{direction="out"} 1',
    );
  });
});
