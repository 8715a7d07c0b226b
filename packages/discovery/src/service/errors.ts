import { type DomainId, NetmachineError } from '@netmachine/core';

/** The node does not take part in inter-domain discovery (`participate: false`). */
export class NotParticipatingError extends NetmachineError {
  constructor() {
    super('ERR_NOT_PARTICIPATING', 'this node does not take part in inter-domain discovery');
  }
}

/** A lookup found no member of the domain (no answer within its attempts, or none could be routed). */
export class LookupFailedError extends NetmachineError {
  constructor(
    readonly domain: DomainId,
    readonly reason: string,
  ) {
    super('ERR_LOOKUP_FAILED', `lookup for domain ${domain} failed: ${reason}`);
  }
}

/** The service needs its Transport engine (`attach`) or domains before it can do this. */
export class DiscoveryNotReadyError extends NetmachineError {
  constructor(what: string) {
    super('ERR_DISCOVERY_NOT_READY', `discovery is not ready: ${what}`);
  }
}
