import type { KeyPair, Logger, NodeAdvert } from '@netmachine/core';
import type { Router } from '@netmachine/router';
import type { DomainLinks } from './links.js';
import type { DomainNodeDirectory, DomainServiceOptions } from './options.js';
import { DomainService } from './service.js';

/** What the domains service is given by the node that runs it. */
export interface DomainServiceContext {
  readonly keyPair: KeyPair;
  readonly logger: Logger;
  readonly router: Router;
  readonly identity: DomainNodeDirectory;
  readonly transport: DomainLinks;
  readonly localAdvert?: () => NodeAdvert | undefined;
}

/** The service factory: `services: { domains: domains() }`. */
export function domains(
  options: Omit<
    DomainServiceOptions,
    'router' | 'keyPair' | 'directory' | 'links' | 'logger' | 'localAdvert'
  > = {},
): (context: DomainServiceContext) => DomainService {
  return (context) =>
    new DomainService({
      ...options,
      router: context.router,
      keyPair: context.keyPair,
      directory: context.identity,
      links: context.transport,
      logger: context.logger,
      ...(context.localAdvert ? { localAdvert: context.localAdvert } : {}),
    });
}
