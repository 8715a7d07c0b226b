import type { DomainId, Logger, NodeId } from '@netmachine/core';
import type { DomainCounters, DomainRefusal } from './counters.js';
import type { DomainEvents } from './events.js';
import type { DomainLinks } from './links.js';
import type { DomainState } from './membership.js';
import type { DomainServiceOptions } from './options.js';

/** The service's settings with their defaults filled in. */
export type DomainLimits = Required<
  Pick<
    DomainServiceOptions,
    'maxMembers' | 'maxDomains' | 'tickMs' | 'refreshMs' | 'requestTimeoutMs' | 'failurePenaltyMs'
  >
>;

/**
 * What the parts of the domain service share: this node, its options (the links may be attached
 * later, so they are read from here each time), every domain's state, and the counters, events and
 * logger that refusals go to.
 */
export interface DomainContext {
  readonly node: NodeId;
  readonly options: DomainServiceOptions & { links: DomainLinks };
  readonly limits: DomainLimits;
  readonly states: Map<DomainId, DomainState>;
  readonly counters: DomainCounters;
  readonly events: DomainEvents;
  readonly logger: Logger;
  /** Counts, logs and reports input the service refused. */
  refuse(reason: DomainRefusal, error: Error, domain: DomainId | undefined, node: NodeId | undefined): void;
}
