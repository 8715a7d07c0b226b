import { resolve } from 'node:path';
import { type DomainId, type JoinPolicy, type Logger, type NodeId, readKeyFile } from '@netmachine/core';
import { type DomainService, parseDomainTicket, parseInvite } from '@netmachine/domain';
import type { DomainConfig } from './config.js';

/** How long a node waits between attempts to join a domain from its config (the seeds may start later). */
const JOIN_RETRY_MS = 2000;

function policyOf(create: Extract<DomainConfig, { create: unknown }>['create']): JoinPolicy {
  const nodes = create.nodes as NodeId[];
  switch (create.policy) {
    case 'allow':
      return { kind: 'allow', nodes };
    case 'invite':
      return { kind: 'invite', admins: nodes };
    case 'secret':
      return { kind: 'secret' };
    default:
      return { kind: 'open' };
  }
}

/** The domain a config entry names. */
export async function domainOfEntry(entry: DomainConfig, dir: string | undefined): Promise<DomainId> {
  if ('create' in entry) return (await readKeyFile(resolve(dir ?? '.', entry.create.key))).domainId;
  return parseDomainTicket('join' in entry ? entry.join : entry.know).advert.id;
}

/**
 * Applies one `domains` entry of the config: creates (with its key file), knows, or joins. A join
 * whose seeds cannot be reached yet is retried until it succeeds, is refused, or `signal` aborts;
 * the returned promise settles with the first attempt's outcome only when `wait` is set.
 */
export async function applyDomainEntry(
  service: DomainService,
  entry: DomainConfig,
  options: { dir: string | undefined; logger: Logger; signal: AbortSignal; wait?: boolean },
): Promise<DomainId> {
  if ('create' in entry) {
    const key = await readKeyFile(resolve(options.dir ?? '.', entry.create.key));
    const created = await service.create({
      name: entry.create.name,
      key,
      policy: policyOf(entry.create),
      protocols: entry.create.protocols,
      ...(entry.create.secret !== undefined ? { secret: entry.create.secret } : {}),
    });
    return created.id;
  }
  if ('know' in entry) return service.know(entry.know);
  const joinOptions = {
    ...(entry.secret !== undefined ? { secret: entry.secret } : {}),
    ...(entry.invite !== undefined ? { invite: parseInvite(entry.invite) } : {}),
    signal: options.signal,
  };
  if (options.wait) return (await service.join(entry.join, joinOptions)).domain;
  const domain = await service.know(entry.join);
  void (async () => {
    while (!options.signal.aborted) {
      try {
        await service.join(entry.join, joinOptions);
        options.logger.info({ domain }, 'joined domain');
        return;
      } catch (error) {
        const name = (error as Error).name;
        // A refusal is final (wrong secret, invalid invite, not allowed): retrying would not change it.
        if (name === 'JoinRefusedError' || name === 'ForgedJoinResponseError') {
          options.logger.error({ err: error, domain }, 'join refused');
          return;
        }
        options.logger.warn({ err: error, domain }, 'join failed; retrying');
      }
      await new Promise((r) => setTimeout(r, JOIN_RETRY_MS).unref());
    }
  })();
  return domain;
}
