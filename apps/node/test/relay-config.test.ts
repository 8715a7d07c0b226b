import { KeyPair } from '@netmachine/core';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
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
