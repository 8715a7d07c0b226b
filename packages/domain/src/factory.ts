import { NetmachineError, type ServiceContext } from '@netmachine/core';
import type { Router } from '@netmachine/router';
import type { DomainNodeDirectory, DomainServiceOptions } from './options.js';
import { DomainService } from './service.js';

/**
 * The service factory: `services: { domains: domains() }`. The node's Router must be the one from
 * @netmachine/router (it carries the DomainDirectory seam). The Transport engine is given with
 * `options.links` or later with `service.attach(transport)`: the overlays connect through it.
 */
export function domains(
  options: Omit<DomainServiceOptions, 'router' | 'keyPair' | 'directory' | 'logger'> = {},
): (context: ServiceContext) => DomainService {
  return (context) => {
    const router = context.router as Partial<Router>;
    if (typeof router.setDomainDirectory !== 'function') {
      throw new NetmachineError(
        'ERR_UNSUPPORTED_ROUTER',
        'the domains service needs a router with setDomainDirectory',
      );
    }
    return new DomainService({
      ...options,
      router: context.router as Router,
      keyPair: context.keyPair,
      directory: context.identity as DomainNodeDirectory,
      logger: context.logger,
    });
  };
}
