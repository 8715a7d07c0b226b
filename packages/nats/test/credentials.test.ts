import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { KeyPair } from '@netmachine/core';
import { Router } from '@netmachine/router';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigFileError, NatsBridge, type NatsConfig, natsServiceOptionsFromConfig } from '../src/index.js';
import { NatsServer } from '../src/testing/index.js';

const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/** A bridge built from a `nats` config section, as the node app builds it; resolves once connected. */
async function connectFromConfig(config: NatsConfig): Promise<NatsBridge> {
  const key = KeyPair.generate();
  const router = new Router({ node: key.id });
  const bridge = new NatsBridge({ ...natsServiceOptionsFromConfig(config), router, keyPair: key });
  cleanups.push(
    () => router.stop(),
    () => bridge.stop(),
  );
  await bridge.start();
  await bridge.whenConnected(AbortSignal.timeout(15_000));
  return bridge;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nm-nats-creds-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('NATS credentials from a node config', { timeout: 60_000 }, () => {
  it('user and pass', async () => {
    const server = await NatsServer.start({ args: ['--user', 'node', '--pass', 'p4ss'] });
    cleanups.push(() => server.close());
    const bridge = await connectFromConfig({ servers: [server.url], user: 'node', pass: 'p4ss' });
    expect(bridge.status().server).toContain(`:${server.port}`);
  });

  it('an nkey seed file', async () => {
    const dir = await tempDir();
    const user = createUser();
    await writeFile(
      join(dir, 'server.conf'),
      `authorization { users = [ { nkey: ${user.getPublicKey()} } ] }\n`,
    );
    await writeFile(join(dir, 'node.nk'), `${new TextDecoder().decode(user.getSeed())}\n`, { mode: 0o600 });
    const server = await NatsServer.start({ args: ['-c', join(dir, 'server.conf')] });
    cleanups.push(() => server.close());
    const bridge = await connectFromConfig({ servers: [server.url], nkeySeedFile: join(dir, 'node.nk') });
    expect(bridge.connected).toBe(true);
  });

  it('a missing file is a typed error naming the field', async () => {
    const dir = await tempDir();
    expect(() =>
      natsServiceOptionsFromConfig({
        servers: ['nats://127.0.0.1:1'],
        credentialsFile: join(dir, 'no.creds'),
      }),
    ).toThrow(ConfigFileError);
  });
});
