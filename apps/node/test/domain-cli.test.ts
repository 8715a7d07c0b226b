import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, type RunningNode, startNode, tempDir } from './cli-helpers.js';

describe('netmachine domain, driving three node processes', { timeout: 120_000 }, () => {
  let root: Awaited<ReturnType<typeof tempDir>>;
  const nodes: RunningNode[] = [];
  const dirs: string[] = [];
  let domain: string;
  let ticket: string;

  beforeAll(async () => {
    root = await tempDir('nm-domain-cli-');
    for (const name of ['a', 'b', 'c']) {
      const dir = join(root.path, name);
      const init = await cli(['init', '--dir', dir, '--listen', 'tls://127.0.0.1:0', '--name', name]);
      expect(init.code, init.stderr).toBe(0);
      dirs.push(dir);
    }
    nodes.push(...(await Promise.all(dirs.map((d) => startNode(d)))));
  }, 180_000);

  afterAll(async () => {
    for (const n of nodes) await n.stop('SIGKILL');
    await root?.remove();
  });

  const [a, b, c] = [0, 1, 2];

  it('create prints the ticket; a wrong secret is refused with exit code 1, the right one admits', async () => {
    const created = await cli([
      ...['domain', 'create', '--dir', dirs[a] as string, '--name', 'lab', '--policy', 'secret'],
      ...['--secret', 's3cret', '--protocol', 'router', '--json'],
    ]);
    expect(created.code, created.stderr).toBe(0);
    ({ domain, ticket } = JSON.parse(created.stdout));
    const wrong = await cli(['domain', 'join', ticket, '--dir', dirs[b] as string, '--secret', 'nope']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/wrong-secret/);
    // A refused join leaves the config as it was.
    const config = JSON.parse(await readFile(join(dirs[b] as string, 'config.json'), 'utf8'));
    expect(config.domains ?? []).toEqual([]);
    const joined = await cli(['domain', 'join', ticket, '--dir', dirs[b] as string, '--secret', 's3cret']);
    expect(joined.code, joined.stderr).toBe(0);
    await expect
      .poll(async () =>
        JSON.parse((await cli(['domain', 'list', '--dir', dirs[a] as string, '--json'])).stdout),
      )
      .toMatchObject([
        { id: domain, name: 'lab', role: 'member', members: 2, activeView: [nodes[b]?.ready.id] },
      ]);
    const metrics = await (await fetch(`http://${nodes[a]?.ready.metrics}/metrics`)).text();
    expect(metrics).toContain(`netmachine_domain_view_size{domain="${domain}",view="active"} 1`);
    expect(metrics).toContain('netmachine_domain_refused_total{reason="wrong-secret"} 1');
    // b takes a into its view on a's Neighbor message, which a sends after taking b into its own.
    await expect
      .poll(async () => (await cli(['status', '--dir', dirs[b] as string])).stdout)
      .toContain(`lab ${domain} (member)  active view 1`);
    const status = await cli(['status', '--dir', dirs[b] as string]);
    expect(status.stdout).toMatch(/domains {2}1/);
  });

  it('a non-member that knows the ticket sends anycast requests a member answers', async () => {
    const observe = await cli(['domain', 'join', ticket, '--dir', dirs[c] as string, '--observe']);
    expect(observe.code, observe.stderr).toBe(0);
    await expect
      .poll(
        async () =>
          JSON.parse((await cli(['domain', 'members', domain, '--dir', dirs[c] as string, '--json'])).stdout)
            .length,
      )
      .toBe(2);
    const reply = await cli([
      'request',
      `router@domain:${domain}`,
      '"ping"',
      '--dir',
      dirs[c] as string,
      '--json',
    ]);
    expect(reply.code, reply.stderr).toBe(0);
    const src = JSON.parse(reply.stdout).src as string;
    expect([`router@${nodes[a]?.ready.id}`, `router@${nodes[b]?.ready.id}`]).toContain(src);
  });

  it('leave takes the member out at the others and out of its config', async () => {
    const left = await cli(['domain', 'leave', domain, '--dir', dirs[b] as string]);
    expect(left.code, left.stderr).toBe(0);
    await expect
      .poll(
        async () =>
          JSON.parse((await cli(['domain', 'members', domain, '--dir', dirs[a] as string, '--json'])).stdout)
            .length,
      )
      .toBe(1);
    const list = await cli(['domain', 'list', '--dir', dirs[b] as string, '--json']);
    expect(JSON.parse(list.stdout)).toEqual([]);
  });
});
