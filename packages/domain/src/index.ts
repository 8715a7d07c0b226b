export { DOMAIN_REFUSALS, type DomainCounters, type DomainRefusal } from './counters.js';
export * from './errors.js';
export type { DomainEvent, DomainEventListener } from './events.js';
export type { DomainLinks } from './links.js';
export { DOMAIN_ENGINE, DOMAIN_PROTOCOL } from './protocol.js';
export * from './records.js';
export { secretKey, secretProof } from './secret.js';
export {
  type CreateDomainOptions,
  type DomainNodeDirectory,
  DomainService,
  type DomainServiceContext,
  type DomainServiceOptions,
  type DomainSummary,
  domains,
  type JoinOptions,
  type MemberSummary,
} from './service.js';
export { type DomainTicket, formatDomainTicket, parseDomainTicket } from './ticket.js';
