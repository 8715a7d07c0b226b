import type { NodeId } from '@netmachine/core';
import type { RunnerCounters } from '@netmachine/overlay';
import type { DiscoveryNode } from '../machines/discovery-node.js';
import type { LookupResult } from './options.js';
import type { PsiCounters } from './psi-exchange.js';

// What the discovery service reports: its events, its counters and the peers in its machines' views.

export interface DiscoveryServiceCounters {
  readonly participating: boolean;
  readonly domains: number;
  /** Gossip messages refused because an entry in them was not signed by the node it names. */
  readonly forgedMessages: number;
  /** Entries in those messages that failed their signature check. */
  readonly forgedEntries: number;
  readonly adverts: { readonly stored: number; readonly refused: number };
  readonly lookups: { readonly started: number; readonly answered: number; readonly failed: number };
  /** PSI runs for TAC dropped because too many were waiting. */
  readonly psiDropped: number;
  readonly psi: PsiCounters;
  readonly runner: RunnerCounters | undefined;
  readonly machine:
    | (DiscoveryNode['taps']['counters'] & {
        readonly tac: DiscoveryNode['tac']['counters'];
        readonly routing: DiscoveryNode['router']['counters'];
      })
    | undefined;
  /** Times the machines were restarted because this node's domains changed. */
  readonly restarts: number;
}

export interface DiscoveryViews {
  /** The TAPS view. */
  readonly view: readonly NodeId[];
  /** The URPS sample memory. */
  readonly samples: readonly NodeId[];
  /** TAC's cluster: neighbours sharing a domain, with the shared domains. */
  readonly cluster: readonly { readonly node: NodeId; readonly shared: readonly string[] }[];
}

export type DiscoveryServiceEvent =
  | {
      readonly type: 'psi:done';
      readonly peer: NodeId;
      readonly shared: readonly string[];
      readonly role: 'initiator' | 'responder';
    }
  | { readonly type: 'lookup:done'; readonly result: LookupResult }
  | { readonly type: 'entries:forged'; readonly from: NodeId; readonly count: number };

type MachineCounters = NonNullable<DiscoveryServiceCounters['machine']>;

/** A snapshot of the machines' counters (TAPS at the top, TAC and routing inside). */
export function machineCountersOf(machine: DiscoveryNode | undefined): MachineCounters | undefined {
  if (machine === undefined) return undefined;
  return {
    ...machine.taps.counters,
    tac: { ...machine.tac.counters },
    routing: { ...machine.router.counters },
  };
}

/** The peers in the machines' views now; `domains`: this node's domains that take part in discovery. */
export function viewsOf(
  machine: DiscoveryNode | undefined,
  domains: () => readonly string[],
): DiscoveryViews {
  if (machine === undefined) return { view: [], samples: [], cluster: [] };
  const samples: NodeId[] = [];
  if (machine.taps.sampler !== undefined)
    for (const { id } of machine.taps.sampler.entries()) samples.push(id as NodeId);
  return {
    view: machine.taps.view().map((e) => e.peer as NodeId),
    samples,
    cluster: machine.tac.cluster().map((e) => ({
      node: e.peer as NodeId,
      shared: domains().filter((d) => machine.tac.membersOf(d).some((m) => m.peer === e.peer)),
    })),
  };
}
