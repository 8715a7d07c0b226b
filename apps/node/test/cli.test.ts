import { createHash, randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cli, type RunningNode, spawnCli, startNode, tempDir } from './cli-helpers.js';

describe('the netmachine command, driving two node processes', { timeout: 120_000 }, () => {
  let root: Awaited<ReturnType<typeof tempDir>>;
  let a: RunningNode;
  let b: RunningNode;
  let dirA: string;
  let dirB: string;

  beforeAll(async () => {
    root = await tempDir('nm-cli-');
    dirA = join(root.path, 'a');
    dirB = join(root.path, 'b');
    const initA = await cli([
      'init',
      '--dir',
      dirA,
      '--listen',
      'tls://127.0.0.1:0',
      '--name',
      'a',
      '--json',
    ]);
    const initB = await cli([
      'init',
      '--dir',
      dirB,
      '--listen',
      'tls://127.0.0.1:0',
      '--name',
      'b',
      '--json',
    ]);
    expect(initA.code, initA.stderr).toBe(0);
    expect(initB.code, initB.stderr).toBe(0);
    const advertA = JSON.parse(initA.stdout).advert as string;
    const advertB = JSON.parse(initB.stdout).advert as string;
    expect((await cli(['peer', 'add', advertB, '--dir', dirA])).code).toBe(0);
    expect((await cli(['peer', 'add', advertA, '--dir', dirB, '--ephemeral'])).code).toBe(0);
    [a, b] = await Promise.all([startNode(dirA), startNode(dirB)]);
  }, 180_000);

  afterAll(async () => {
    await a?.stop('SIGKILL');
    await b?.stop('SIGKILL');
    await root?.remove();
  });

  it('init writes a private key and config, and refuses to overwrite them', async () => {
    const key = await stat(join(dirA, 'node.key'));
    expect(key.mode & 0o777).toBe(0o600);
    const again = await cli(['init', '--dir', dirA]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already holds a node/);
  });

  it('the control socket is private to the node’s user', async () => {
    const socket = await stat(a.ready.control);
    expect(socket.mode & 0o077).toBe(0);
  });

  it('request from one node reaches the other’s router engine and prints the reply', async () => {
    const reply = await cli(['request', `router@${b.ready.id}`, '"ping"', '--dir', dirA, '--json']);
    expect(reply.code, reply.stderr).toBe(0);
    const parsed = JSON.parse(reply.stdout);
    expect(parsed.src).toBe(`router@${b.ready.id}`);
    expect(parsed.body).toMatchObject({ node: b.ready.id, name: 'b' });
  });

  it('send is counted at the receiver, and status --json reports it', async () => {
    const before = JSON.parse((await cli(['status', '--dir', dirB, '--json'])).stdout);
    const sent = await cli(['send', `router@${b.ready.id}`, '{"hello":1}', '--dir', dirA]);
    expect(sent.code, sent.stderr).toBe(0);
    const after = await vi.waitFor(
      async () => {
        const status = JSON.parse((await cli(['status', '--dir', dirB, '--json'])).stdout);
        expect(status.router.counters.receivedRemote).toBeGreaterThan(before.router.counters.receivedRemote);
        return status;
      },
      { timeout: 20_000, interval: 50 },
    );
    expect(after.id).toBe(b.ready.id);
    expect(after.connections.map((c: { node: string }) => c.node)).toContain(a.ready.id);
  });

  it('a request to an engine that does not exist fails with exit code 1 and a typed error', async () => {
    const reply = await cli(['request', `nobody@${b.ready.id}`, '1', '--dir', dirA, '--timeout', '2000']);
    expect(reply.code).toBe(1);
    expect(reply.stderr).toMatch(/ERR_/);
  });

  it('pub on one node reaches a sub on the other, in order', async () => {
    const created = await cli(['topic', 'create', '--dir', dirA, '--json']);
    expect(created.code, created.stderr).toBe(0);
    const { topic } = JSON.parse(created.stdout) as { topic: string };
    const sub = spawnCli(['sub', topic, '--dir', dirB, '--count', '3']);
    await sub.waitForStderr(/subscribed to/);
    for (const n of [1, 2, 3]) {
      const pub = await cli(['pub', topic, JSON.stringify({ n }), '--dir', dirA]);
      expect(pub.code, pub.stderr).toBe(0);
    }
    const code = await sub.exited;
    expect(code).toBe(0);
    const events = sub
      .stdout()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { body: { n: number }; topic: string; src: string });
    expect(events.map((e) => e.body.n)).toEqual([1, 2, 3]);
    expect(events[0]?.topic).toBe(topic);
    expect(events[0]?.src).toBe(`control@${a.ready.id}`);
  });

  it('put on one node, get on the other: a 50 MiB file comes back byte-identical', {
    timeout: 300_000,
  }, async () => {
    const file = join(root.path, 'big.bin');
    const data = randomBytes(50 * 2 ** 20);
    await writeFile(file, data);
    const put = await cli(['put', file, '--dir', dirA, '--json'], 240_000);
    expect(put.code, put.stderr).toBe(0);
    const { reference } = JSON.parse(put.stdout) as { reference: string };
    expect(reference).toMatch(/^nmref1\./);
    const out = join(root.path, 'fetched.bin');
    const get = await cli(['get', reference, '--out', out, '--dir', dirB, '--json'], 240_000);
    expect(get.code, get.stderr).toBe(0);
    // Not a terminal: progress comes as plain lines on stderr, ending at 100%.
    expect(get.stderr).toMatch(/get 100% 50\.0 MiB/);
    const fetched = await readFile(out);
    expect(fetched.length).toBe(data.length);
    expect(createHash('sha256').update(fetched).digest('hex')).toBe(
      createHash('sha256').update(data).digest('hex'),
    );
  });

  it('get of an unknown reference fails with a typed error', async () => {
    const put = await cli(['put', join(dirA, 'config.json'), '--dir', dirA, '--json']);
    const { reference } = JSON.parse(put.stdout) as { reference: string };
    // A reference of the same shape whose root nobody holds: flip a character of the root id.
    const i = 'nmref1.'.length + 3;
    const bogus = reference.slice(0, i) + (reference[i] === 'A' ? 'B' : 'A') + reference.slice(i + 1);
    const get = await cli(['get', bogus, '--out', join(root.path, 'x'), '--dir', dirB], 120_000);
    expect(get.code).not.toBe(0);
    expect(get.stderr).toMatch(/ERR_/);
  });

  it('serves Prometheus metrics and /healthz on loopback', async () => {
    const metrics = await fetch(`http://${a.ready.metrics}/metrics`);
    const text = await metrics.text();
    expect(text).toMatch(/netmachine_messages_total\{route="remote",outcome="sent"\} [1-9]/);
    expect(text).toContain('netmachine_dropped_total');
    expect(text).toContain('netmachine_handshake_failures_total');
    expect(text).toContain('netmachine_connections');
    expect(text).toContain('netmachine_flow_pauses_total');
    const health = await fetch(`http://${a.ready.metrics}/healthz`);
    expect(health.status).toBe(200);
  });

  it('map prints the URL of the node’s map page, which serves its snapshot', async () => {
    const result = await cli(['map', '--dir', dirA]);
    expect(result.code).toBe(0);
    const url = result.stdout.trim();
    expect(url).toBe(`http://${a.ready.metrics}/map`);
    const page = await fetch(url);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await page.text()).toContain('<script type="module" src="/map.js">');
    const snapshot = (await (await fetch(`${url}.json`)).json()) as {
      self: { id: string };
      peers: unknown[];
    };
    expect(snapshot.self.id).toBe(a.ready.id);
    expect(snapshot.peers.length).toBeGreaterThan(0);
  });

  it('status of a directory with no running node exits 3', async () => {
    const empty = join(root.path, 'none');
    const result = await cli(['status', '--dir', empty]);
    expect(result.code).toBe(3);
  });

  it('SIGTERM stops a node cleanly with exit code 0', async () => {
    const dirC = join(root.path, 'c');
    expect((await cli(['init', '--dir', dirC, '--listen', 'tls://127.0.0.1:0'])).code).toBe(0);
    const c = await startNode(dirC);
    expect(await c.stop('SIGTERM')).toBe(0);
  });
});

describe('bad input to the command line', { timeout: 120_000 }, () => {
  it('an invalid config names the field and exits 2 without starting', async () => {
    const root = await tempDir('nm-cli-bad-');
    try {
      const dir = join(root.path, 'n');
      expect((await cli(['init', '--dir', dir, '--listen', 'tls://127.0.0.1:0'])).code).toBe(0);
      const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
      await writeFile(
        join(dir, 'config.json'),
        JSON.stringify({ ...config, listen: ['not a url'], bogus: 1 }),
      );
      const result = await cli(['start', '--dir', dir]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/listen\.0/);
      expect(result.stderr).toMatch(/bogus/);
      // A well-formed URL whose scheme no registered transport serves is refused as well.
      await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, listen: ['ftp://x'] }));
      const unserved = await cli(['start', '--dir', dir]);
      expect(unserved.code).toBe(2);
      expect(unserved.stderr).toMatch(/listen\.0.*no transport registered/);
    } finally {
      await root.remove();
    }
  });

  it('a bad or tampered advert is refused with exit code 2', async () => {
    const root = await tempDir('nm-cli-bad-');
    try {
      const dir = join(root.path, 'n');
      const init = await cli(['init', '--dir', dir, '--listen', 'tls://127.0.0.1:0', '--json']);
      const advert = JSON.parse(init.stdout).advert as string;
      const garbage = await cli(['peer', 'add', 'nmadvert1.garbage', '--dir', dir]);
      expect(garbage.code).toBe(2);
      const other = join(root.path, 'm');
      const otherAdvert = JSON.parse((await cli(['init', '--dir', other, '--json'])).stdout).advert as string;
      // Flip one character in the signed payload.
      const i = otherAdvert.length - 10;
      const tampered =
        otherAdvert.slice(0, i) + (otherAdvert[i] === 'A' ? 'B' : 'A') + otherAdvert.slice(i + 1);
      const result = await cli(['peer', 'add', tampered, '--dir', dir]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/signature|invalid|malformed/i);
      expect(advert).toMatch(/^nmadvert1\./);
    } finally {
      await root.remove();
    }
  });
});
