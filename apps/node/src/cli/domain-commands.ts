import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyPair, writeKeyFile } from '@netmachine/core';
import { parseDomainTicket } from '@netmachine/domain';
import { type DomainConfig, readConfigInput, writeConfig } from '../config.js';
import { ControlClient } from '../control/client.js';
import { domainOfEntry } from '../domains.js';
import { nodePaths } from '../paths.js';
import { print } from './output.js';

export interface DomainCommandOptions {
  dir: string;
  json?: boolean;
}

/** Runs `fn` against the running node, or returns undefined when it is not running. */
async function ifRunning<T>(dir: string, fn: (client: ControlClient) => Promise<T>): Promise<T | undefined> {
  let client: ControlClient;
  try {
    client = await ControlClient.connect(nodePaths(dir).controlSocket);
  } catch {
    return undefined;
  }
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

async function running<T>(dir: string, fn: (client: ControlClient) => Promise<T>): Promise<T> {
  const result = await ifRunning(dir, fn);
  if (result === undefined) throw new Error('the node is not running (start it with `netmachine start`)');
  return result;
}

/**
 * Adds an entry to the config's `domains` (replacing one for the same domain). A running node applies
 * it first: a refused join (wrong secret, invalid invite) leaves the config as it was.
 */
async function addEntry(options: DomainCommandOptions, entry: DomainConfig): Promise<void> {
  const paths = nodePaths(options.dir);
  const config = await readConfigInput(paths.config);
  const domain = await domainOfEntry(entry, paths.dir);
  const kept: DomainConfig[] = [];
  for (const e of (config.domains ?? []) as DomainConfig[]) {
    if ((await domainOfEntry(e, paths.dir)) !== domain) kept.push(e);
  }
  const applied = await ifRunning(options.dir, (c) =>
    c.call<{ domain: string; ticket: string }>('domain.apply', { entry }),
  );
  await writeConfig(paths.config, { ...config, domains: [...kept, entry] });
  print(
    applied ?? { domain, ticket: undefined },
    options.json === true,
    (v: { domain: string; ticket?: string }) =>
      v.ticket
        ? `domain ${v.domain}\nticket ${v.ticket}`
        : `domain ${v.domain} (added to the config; applied when the node starts)`,
  );
}

export async function domainCreateCommand(
  options: DomainCommandOptions & {
    name: string;
    policy?: 'open' | 'invite' | 'allow' | 'secret';
    node?: string[];
    protocol?: string[];
    secret?: string;
  },
): Promise<void> {
  const paths = nodePaths(options.dir);
  const key = KeyPair.generate();
  await mkdir(join(paths.dir, 'domains'), { recursive: true, mode: 0o700 });
  const keyFile = join('domains', `${key.id}.key`);
  await writeKeyFile(join(paths.dir, keyFile), key);
  await addEntry(options, {
    create: {
      name: options.name,
      key: keyFile,
      policy: options.policy ?? 'open',
      nodes: options.node ?? [],
      protocols: options.protocol ?? [],
      ...(options.secret !== undefined ? { secret: options.secret } : {}),
    },
  });
}

export async function domainJoinCommand(
  ticket: string,
  options: DomainCommandOptions & { secret?: string; invite?: string; observe?: boolean },
): Promise<void> {
  parseDomainTicket(ticket); // refuse a bad ticket before touching the config
  if (options.observe) return addEntry(options, { know: ticket.trim() });
  await addEntry(options, {
    join: ticket.trim(),
    ...(options.secret !== undefined ? { secret: options.secret } : {}),
    ...(options.invite !== undefined ? { invite: options.invite.trim() } : {}),
  });
}

export async function domainLeaveCommand(domain: string, options: DomainCommandOptions): Promise<void> {
  const paths = nodePaths(options.dir);
  const config = await readConfigInput(paths.config);
  const kept: DomainConfig[] = [];
  for (const e of (config.domains ?? []) as DomainConfig[]) {
    if ((await domainOfEntry(e, paths.dir)) !== domain) kept.push(e);
  }
  await writeConfig(paths.config, { ...config, domains: kept });
  await ifRunning(options.dir, (c) => c.call('domain.leave', { domain }).catch(() => undefined));
  print({ left: domain }, options.json === true, () => `left domain ${domain}`);
}

interface DomainRow {
  id: string;
  name: string;
  role: string;
  policy: string;
  members: number;
  activeView: string[];
  passiveView: number;
}

export async function domainListCommand(options: DomainCommandOptions): Promise<void> {
  const rows = await ifRunning(options.dir, (c) => c.call<DomainRow[]>('domain.list'));
  if (rows !== undefined) {
    print(rows, options.json === true, (list: DomainRow[]) =>
      list.length === 0
        ? 'no domains'
        : list
            .map(
              (d) =>
                `${d.id}  ${d.name}  ${d.role}  policy ${d.policy}  members ${d.members}  active ${d.activeView.length}  passive ${d.passiveView}`,
            )
            .join('\n'),
    );
    return;
  }
  const paths = nodePaths(options.dir);
  const config = await readConfigInput(paths.config);
  const entries = [];
  for (const e of (config.domains ?? []) as DomainConfig[]) {
    entries.push({ id: await domainOfEntry(e, paths.dir), kind: Object.keys(e)[0] });
  }
  print(entries, options.json === true, (list: { id: string; kind: string }[]) =>
    list.length === 0 ? 'no domains' : list.map((d) => `${d.id}  ${d.kind}  (node not running)`).join('\n'),
  );
}

interface MemberRow {
  node: string;
  self: boolean;
  engines: string[];
  connected: boolean;
  inActiveView: boolean;
  rttMs?: number;
}

export async function domainMembersCommand(domain: string, options: DomainCommandOptions): Promise<void> {
  const rows = await running(options.dir, (c) => c.call<MemberRow[]>('domain.members', { domain }));
  print(rows, options.json === true, (list: MemberRow[]) =>
    list
      .map(
        (m) =>
          `${m.node}  ${m.self ? 'self   ' : m.inActiveView ? 'active ' : 'passive'}  ${m.connected ? 'connected' : '         '}  ${m.engines.join(',')}${m.rttMs !== undefined ? `  rtt ${m.rttMs.toFixed(2)} ms` : ''}`,
      )
      .join('\n'),
  );
}

export async function domainTicketCommand(domain: string, options: DomainCommandOptions): Promise<void> {
  const result = await running(options.dir, (c) => c.call<{ ticket: string }>('domain.ticket', { domain }));
  print(result, options.json === true, (v: { ticket: string }) => v.ticket);
}

export async function domainInviteCommand(
  domain: string,
  options: DomainCommandOptions & { for?: string },
): Promise<void> {
  const result = await running(options.dir, (c) =>
    c.call<{ invite: string }>('domain.invite', { domain, ...(options.for ? { invitee: options.for } : {}) }),
  );
  print(result, options.json === true, (v: { invite: string }) => v.invite);
}
