import type { DomainId, NodeId, ServiceContext } from '@netmachine/core';
import type { RelayOptions, RelayPolicy } from '@netmachine/relay';
import type { NodeConfig } from './config.js';

/** Whether a node is a member of a domain, as the running domain service sees it (false when unknown). */
export type DomainMembership = (domain: DomainId, node: NodeId) => boolean;

/** The relay service's options from the config's `relay` section. */
export function relayOptionsFromConfig(
  section: NodeConfig['relay'],
  isMember: DomainMembership,
): RelayOptions {
  const offer = section.offer;
  return {
    use: section.use as NodeId[],
    ...(offer
      ? {
          offer: {
            policy: relayPolicy(offer.policy, isMember),
            multiHop: offer.multiHop,
            ...(offer.perSource ? { perSource: offer.perSource } : {}),
            ...(offer.total ? { total: offer.total } : {}),
            ...(offer.maxSources ? { maxSources: offer.maxSources } : {}),
            ...(offer.maxServed ? { maxServed: offer.maxServed } : {}),
          },
        }
      : {}),
  };
}

function relayPolicy(
  policy: NonNullable<NodeConfig['relay']['offer']>['policy'],
  isMember: DomainMembership,
): RelayPolicy {
  if (policy === 'anyone') return { kind: 'anyone' };
  if ('allow' in policy) return { kind: 'allow', nodes: policy.allow as NodeId[] };
  return { kind: 'domains', domains: policy.domains as DomainId[], isMember };
}

/** A domains service factory that also lets the relay policy ask about membership once it runs. */
export function withMembership<S extends { members(domain: DomainId): readonly { node: NodeId }[] }>(
  factory: (context: ServiceContext) => S,
): { factory: (context: ServiceContext) => S; isMember: DomainMembership } {
  let service: S | undefined;
  return {
    factory: (context) => {
      service = factory(context);
      return service;
    },
    isMember: (domain, node) => {
      try {
        return service?.members(domain).some((m) => m.node === node) ?? false;
      } catch {
        return false; // a domain this node does not know
      }
    },
  };
}
