import { type Logger, type NodeDirectory, type NodeId, TRUST_DEFAULT } from '@netmachine/core';
import { ProtocolRunner, type RunnerRouter, type RunnerTransport } from '@netmachine/overlay';
import {
  type BlipParams,
  blipFilterBytes,
  blipSimilarity,
  blipTargetSimilarity,
  bloomFilter,
} from '../blip.js';
import {
  type DiscoveryCommand,
  type DiscoveryConfig,
  type DiscoveryEvent,
  type DiscoveryNode,
  type DiscoveryTimer,
  discoveryProtocol,
} from '../machines/discovery-node.js';
import type { DiscoveryMessage, PeerEntry } from '../machines/messages.js';
import { DiscoveryGate } from './gate.js';
import type { SignedEntries } from './signed-entries.js';

/** The engine that speaks the discovery protocol (TAPS, TAC, routing) on every participating node. */
export const DISCOVERY_ENGINE = 'discovery';

export type DiscoveryRunner = ProtocolRunner<
  DiscoveryMessage,
  DiscoveryCommand,
  DiscoveryTimer,
  DiscoveryEvent
>;

export interface DiscoveryRunnerOptions {
  /** This node's entry, as `SignedEntries.issue` gives it (re-signed in place). */
  readonly advert: PeerEntry;
  /** This node's domains that take part in discovery, sorted. */
  readonly domains: readonly string[];
  readonly blip: BlipParams;
  readonly machines: Partial<Omit<DiscoveryConfig, 'optedOut'>> | undefined;
  /** Checks the entries the machines and the gate take in. */
  readonly entries: SignedEntries;
  /** Where the peers' trust is read. */
  readonly directory: NodeDirectory;
  /** A message from `from` carried `count` forged entries and was dropped. */
  readonly forged: (from: NodeId, count: number) => void;
  /** The gate around the machines, once the runner has created them. */
  readonly created: (gate: DiscoveryGate) => void;
  readonly router: RunnerRouter;
  readonly transport: RunnerTransport;
  readonly logger: Logger;
}

/**
 * The machines' trust in [0, 1], trusted from 0.5, from the identity store's 0..255: the store's
 * default (128) is just below, so only peers the operator raised (initial peers, trusted contacts)
 * count as trusted; 0 (banned) is 0.
 */
export function machineTrust(storeTrust: number): number {
  return storeTrust <= TRUST_DEFAULT
    ? (storeTrust / TRUST_DEFAULT) * 0.45
    : 0.5 + (0.5 * (storeTrust - TRUST_DEFAULT)) / (255 - TRUST_DEFAULT);
}

/**
 * The sans-IO discovery machines (the ones the simulator runs) behind the signature gate, in a
 * protocol runner on engine `discovery`; not started.
 */
export function discoveryRunner(o: DiscoveryRunnerOptions): DiscoveryRunner {
  const { advert, domains, blip, entries, directory } = o;
  const filterBytes = blipFilterBytes(blip);
  const protocol = discoveryProtocol(
    () => ({
      advert,
      domains,
      verify: (e) => entries.verify(e) && entries.fresh(e),
      trust: (peer) => machineTrust(directory.node(peer as NodeId)?.trust ?? TRUST_DEFAULT),
      similarity: (a, b) =>
        a.length === filterBytes && b.length === filterBytes ? blipSimilarity(a, b, blip) : 0,
      domainFilter: (domain) => bloomFilter([domain], blip),
      targetSimilarity: (filter, target) =>
        filter.length === filterBytes && target.length === filterBytes
          ? blipTargetSimilarity(filter, target, blip)
          : 0,
    }),
    { ...o.machines },
  );
  const gated = {
    protocol: protocol.protocol,
    decode: protocol.decode,
    create: (self: string, rng: Parameters<typeof protocol.create>[1], now: number) => {
      const gate = new DiscoveryGate(protocol.create(self, rng, now) as DiscoveryNode, {
        verify: (e) => entries.verify(e),
        forged: (from, count) => o.forged(from as NodeId, count),
      });
      o.created(gate);
      return gate;
    },
  };
  return new ProtocolRunner({
    protocol: gated,
    router: o.router,
    transport: o.transport,
    engineName: DISCOVERY_ENGINE,
    logger: o.logger,
  });
}
