import type { DomainService } from '@netmachine/domain';
import type { MapDomain } from './snapshot.js';

/** The map shows at most this many domains. */
export const MAP_DOMAIN_LIMIT = 100;

/** The domains a domain service is in, with their views, for the map. */
export function domainViews(service: DomainService): MapDomain[] {
  return service
    .list()
    .slice(0, MAP_DOMAIN_LIMIT)
    .map((d) => ({
      id: d.id,
      name: d.name,
      role: d.role,
      members: d.members,
      active: d.activeView,
      passive: d.passiveView,
    }));
}
