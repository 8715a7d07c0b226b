export { DOMAIN_REFUSALS, type DomainCounters, type DomainRefusal } from './counters.js';
export * from './errors.js';
export { type DomainEvent, type DomainEventListener, DomainEvents } from './events.js';
export { domains } from './factory.js';
export type { DomainLinks } from './links.js';
export type {
  CreateDomainOptions,
  DomainNodeDirectory,
  DomainServiceOptions,
  DomainSummary,
  JoinOptions,
  MemberSummary,
} from './options.js';
export { DOMAIN_ENGINE, DOMAIN_PROTOCOL } from './protocol.js';
export * from './records.js';
export { secretKey, secretProof } from './secret.js';
export { DomainService, type DomainServiceCounters } from './service.js';
export { type DomainTicket, formatDomainTicket, parseDomainTicket } from './ticket.js';
