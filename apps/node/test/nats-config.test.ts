import { KeyPair } from '@netmachine/core';
import { attachEngine } from '@netmachine/nats';
import { NatsServer } from '@netmachine/nats/testing';
import { describe, expect, it, vi } from 'vitest';
import { validateConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { createNode, defaultServices } from '../src/node.js';
import { nodeStatus } from '../src/status.js';

const base = { listen: ['tls://127.0.0.1:0'], transports: ['tls'], metrics: false };

function problems(nats: unknown): readonly string[] {
  try {
    validateConfig({ ...base, nats });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  return [];
}

describe('the nats section of the node config', () => {
  it('accepts a cluster with credentials and a subject prefix', () => {
    const config = validateConfig({
      ...base,
      nats: {
        servers: ['nats://10.0.0.1:4222', 'nats://10.0.0.2:4222', 'tls://10.0.0.3:4222'],
        user: 'node',
        pass: 'secret',
        subjectPrefix: 'prod',
      },
    });
    expect(config.nats?.servers).toHaveLength(3);
  });

  it('names the field of each mistake', () => {
    expect(problems({ servers: [] })).toEqual([expect.stringMatching(/^nats\.servers: /)]);
    expect(problems({ servers: ['10.0.0.1:4222'] })).toEqual([expect.stringMatching(/^nats\.servers\.0: /)]);
    expect(problems({ servers: ['nats://a:1'], subjectPrefix: 'a.b' })).toEqual([
      expect.stringMatching(/^nats\.subjectPrefix: /),
    ]);
    expect(problems({ servers: ['nats://a:1'], user: 'u' })).toEqual([
      'nats.pass: user and pass go together',
    ]);
    expect(problems({ servers: ['nats://a:1'], token: 't', credentialsFile: 'x.creds' })).toEqual([
      'nats.credentialsFile: one way to authenticate to NATS, not token + credentialsFile',
    ]);
    expect(problems({ servers: ['nats://a:1'], pasword: 'x' })).toEqual([
      expect.stringMatching(/^nats\.pasword: /),
    ]);
  });

  it('a missing credentials file fails with the field named', async () => {
    const config = validateConfig({
      ...base,
      nats: { servers: ['nats://127.0.0.1:4222'], credentialsFile: '/nonexistent/node.creds' },
    });
    await expect(defaultServices(config)).rejects.toThrow(/^nats\.credentialsFile: cannot read/);
  });
});

describe('a node configured for a NATS server with its own accounts', { timeout: 60_000 }, () => {
  it('connects with the configured token and prefix; status shows the server of each attachment', async () => {
    const token = 's3cret-token';
    await using server = await NatsServer.start({ args: ['--auth', token] });
    const workerKey = KeyPair.generate();
    const config = validateConfig({
      ...base,
      nats: { servers: [server.url], token, subjectPrefix: 'prod', engines: { worker: workerKey.id } },
    });
    const node = await createNode({ config, services: await defaultServices(config) });
    await node.start();
    try {
      const worker = await attachEngine({
        servers: [server.url],
        natsOptions: { token },
        subjectPrefix: 'prod',
        node: node.id,
        name: 'worker',
        key: workerKey,
        handler: (msg, ctx) => ctx.reply(msg, { echoed: msg.body }),
      });
      try {
        const reply = await node.client('tester').request('worker', 'hi');
        expect(reply.body).toEqual({ echoed: 'hi' });
        // vi.waitFor's own default is 1 s (the configured 20 s is expect.poll's): too short on a busy machine.
        await vi.waitFor(() => {
          const nats = nodeStatus(node).nats;
          expect(nats?.connected).toBe(true);
          expect(nats?.server).toContain(`:${server.port}`);
          expect(nats?.attachments).toEqual([
            { name: 'worker', instance: worker.instance, server: expect.stringContaining(`:${server.port}`) },
          ]);
        }, 20_000);
      } finally {
        await worker.stop();
      }
    } finally {
      await node.stop();
    }
  });
});
