import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAccount, createOperator, createUser, type KeyPair as NKeyPair } from '@nats-io/nkeys';
import { connect } from '@nats-io/transport-node';
import { KeyPair } from '@netmachine/core';
import { Router } from '@netmachine/router';
import { describe, expect, it } from 'vitest';
import {
  ConfigFileError,
  NatsBridge,
  type NatsConfig,
  natsClientOptionsFromConfig,
  natsServiceOptionsFromConfig,
} from '../src/index.js';
import { NatsServer } from '../src/testing/index.js';
import { cleanupsAfterEach } from './helpers.js';

const cleanups = cleanupsAfterEach();

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

/**
 * A NATS JWT (v2) for `claims`, signed by `issuer`: the form nsc writes, made by hand so that no
 * tool beyond the nkeys library is needed. `jti` is the base32 SHA-512/256 of the claims, as nsc makes it.
 */
function natsJwt(issuer: NKeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const claims: Record<string, unknown> = {
    iat: Math.floor(Date.now() / 1000),
    iss: issuer.getPublicKey(),
    name,
    sub: subject,
  };
  const digest = createHash('sha512-256').update(JSON.stringify(claims)).digest();
  claims.jti = base32NoPadding(digest);
  claims.nats = { ...nats, version: 2 };
  const signed = `${b64({ typ: 'JWT', alg: 'ed25519-nkey' })}.${b64(claims)}`;
  return `${signed}.${Buffer.from(issuer.sign(new TextEncoder().encode(signed))).toString('base64url')}`;
}

function base32NoPadding(bytes: Uint8Array): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

const NO_LIMIT = { subs: -1, data: -1, payload: -1 };

/** An operator, an account and a user of it: the server's config and the user's `.creds` file. */
function operatorSetup(dir: string, accountName: string) {
  const operator = createOperator();
  const account = createAccount();
  const user = createUser();
  const operatorJwt = natsJwt(operator, operator.getPublicKey(), 'test-operator', { type: 'operator' });
  const accountJwt = natsJwt(operator, account.getPublicKey(), accountName, {
    type: 'account',
    limits: { ...NO_LIMIT, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 },
    default_permissions: { pub: {}, sub: {} },
  });
  const userJwt = natsJwt(account, user.getPublicKey(), 'node', {
    type: 'user',
    ...NO_LIMIT,
    pub: {},
    sub: {},
  });
  const serverConf = [
    `operator: ${JSON.stringify(join(dir, 'operator.jwt'))}`,
    'resolver: MEMORY',
    `resolver_preload: { ${account.getPublicKey()}: ${JSON.stringify(accountJwt)} }`,
    '',
  ].join('\n');
  const seed = new TextDecoder().decode(user.getSeed());
  const creds = [
    '-----BEGIN NATS USER JWT-----',
    userJwt,
    '------END NATS USER JWT------',
    '',
    '-----BEGIN USER NKEY SEED-----',
    seed,
    '------END USER NKEY SEED------',
    '',
  ].join('\n');
  return { operatorJwt, serverConf, creds };
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

  it('a .creds file (user JWT + nkey seed) against a server in operator mode', async () => {
    const dir = await tempDir();
    const { operatorJwt, serverConf, creds } = operatorSetup(dir, 'netmachine');
    await writeFile(join(dir, 'operator.jwt'), operatorJwt);
    await writeFile(join(dir, 'server.conf'), serverConf);
    await writeFile(join(dir, 'node.creds'), creds, { mode: 0o600 });
    const server = await NatsServer.start({ args: ['-c', join(dir, 'server.conf')] });
    cleanups.push(() => server.close());
    const bridge = await connectFromConfig({
      servers: [server.url],
      credentialsFile: join(dir, 'node.creds'),
    });
    expect(bridge.connected).toBe(true);
  });

  it('a .creds file of a user the server does not know is refused, not connected', async () => {
    const dir = await tempDir();
    const trusted = operatorSetup(dir, 'netmachine');
    // A user of another operator's account: well-formed, but nothing the server trusts issued it.
    const stranger = operatorSetup(dir, 'elsewhere');
    await writeFile(join(dir, 'operator.jwt'), trusted.operatorJwt);
    await writeFile(join(dir, 'server.conf'), trusted.serverConf);
    await writeFile(join(dir, 'stranger.creds'), stranger.creds, { mode: 0o600 });
    const server = await NatsServer.start({ args: ['-c', join(dir, 'server.conf')] });
    cleanups.push(() => server.close());
    // The client options the bridge would use: the server answers with an authorization error.
    const options = natsClientOptionsFromConfig({
      servers: [server.url],
      credentialsFile: join(dir, 'stranger.creds'),
    });
    await expect(connect({ servers: [server.url], ...options })).rejects.toThrow(/authorization/i);
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
