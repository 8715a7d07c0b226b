import type {
  Machine,
  MachineInput,
  MachineOutput,
  Millis,
  PeerId,
  ProtocolDefinition,
  Rng,
} from '@netmachine/overlay';
import {
  DISCOVERY_PROTOCOL,
  type DiscoveryMessage,
  decodeDiscoveryMessage,
  type PeerEntry,
  type RoutingMessage,
  type TacMessage,
  type TapsMessage,
} from './messages.js';
import { DomainRouter } from './routing.js';
import type { RoutingCommand, RoutingConfig, RoutingEvent, RoutingTimer } from './routing-types.js';
import { Tac, type TacCommand, type TacConfig, type TacEvent, type TacTimer } from './tac.js';
import { Taps, type TapsCommand, type TapsConfig, type TapsTimer } from './taps.js';

// The three inter-domain machines of one node, run together on one link (one protocol on the wire):
// TAPS (with URPS) samples peers, TAC clusters with peers sharing domains, the router looks domains up.
// They share what they know: TAC draws candidates from TAPS' samples, the router forwards to any peer
// TAPS or TAC knows, and a domain TAC finds no neighbour for is looked up, its members checked by TAC.
// An opted-out node runs none of it: it sends nothing and drops everything, so no other node ever holds
// its entry in an inter-domain view.

export interface DiscoveryHooks {
  /** This node's signed advert (peer id, domain filter, signature). */
  readonly advert: PeerEntry;
  /** The node's own domains (only the membership checks and the PSI step look at them). */
  readonly domains: readonly string[];
  readonly verify: (entry: PeerEntry) => boolean;
  readonly trust: (peer: PeerId) => number;
  /** Similarity of two domain filters in [0, 1] (BLIP's estimate). */
  readonly similarity: (a: Uint8Array, b: Uint8Array) => number;
  /** The filter of one domain, the target a lookup is routed toward. */
  readonly domainFilter: (domain: string) => Uint8Array;
  /** How close a peer's filter is to a domain's filter, for routing (default: `similarity`). */
  readonly targetSimilarity?: (filter: Uint8Array, target: Uint8Array) => number;
}

export interface DiscoveryConfig {
  readonly taps: Partial<TapsConfig>;
  readonly tac: Partial<TacConfig>;
  readonly routing: Partial<RoutingConfig>;
  /** Stay out of the inter-domain protocols altogether. */
  readonly optedOut: boolean;
  /** Run TAC (default true); false runs peer sampling and routing only. */
  readonly clustering: boolean;
}

export type DiscoveryCommand = TapsCommand | TacCommand | RoutingCommand;
export type DiscoveryTimer =
  | { readonly to: 'taps'; readonly timer: TapsTimer }
  | { readonly to: 'tac'; readonly timer: TacTimer }
  | { readonly to: 'routing'; readonly timer: RoutingTimer };
/** What the node's driver sees: overlap checks to run (`psiWanted`) and lookup outcomes. */
export type DiscoveryEvent = Exclude<TacEvent, { type: 'lookupWanted' }> | RoutingEvent;

const AUTO_LOOKUP = '~tac:';

export class DiscoveryNode
  implements Machine<DiscoveryMessage, DiscoveryCommand, DiscoveryTimer, DiscoveryEvent>
{
  readonly self: PeerId;
  readonly optedOut: boolean;
  readonly clustering: boolean;
  readonly taps: Taps;
  readonly tac: Tac;
  readonly router: DomainRouter;
  /** Inputs an opted-out node dropped. */
  ignored = 0;
  #out: MachineOutput<DiscoveryMessage, DiscoveryTimer, DiscoveryEvent> | undefined;
  #autoLookups = 0;
  readonly #tapsOut: MachineOutput<TapsMessage, TapsTimer, never>;
  readonly #tacOut: MachineOutput<TacMessage, TacTimer, TacEvent>;
  readonly #routingOut: MachineOutput<RoutingMessage, RoutingTimer, RoutingEvent>;

  constructor(self: PeerId, rng: Rng, hooks: DiscoveryHooks, config: Partial<DiscoveryConfig> = {}) {
    this.self = self;
    this.optedOut = config.optedOut ?? false;
    this.clustering = config.clustering ?? true;
    this.taps = new Taps(self, rng, hooks, config.taps);
    const samples = (count: number): PeerEntry[] => {
      const picked: PeerEntry[] = [];
      for (let i = 0; i < count; i++) {
        const entry = this.taps.sample();
        if (entry !== undefined) picked.push(entry);
      }
      return picked;
    };
    this.tac = new Tac(self, rng, { ...hooks, samples }, config.tac);
    this.router = new DomainRouter(
      self,
      rng,
      {
        ...hooks,
        similarity: hooks.targetSimilarity ?? hooks.similarity,
        candidates: (visit) => {
          this.taps.forEachInView(visit);
          this.taps.forEachKnown(visit);
          this.tac.forEachInCluster(visit);
        },
        membersOf: (domain) => this.tac.membersOf(domain),
      },
      config.routing,
    );
    const out = () => this.#out as MachineOutput<DiscoveryMessage, DiscoveryTimer, DiscoveryEvent>;
    const common = {
      send: (to: PeerId, message: DiscoveryMessage) => out().send(to, message),
      connect: (peer: PeerId) => out().connect(peer),
      disconnect: (peer: PeerId) => out().disconnect(peer),
    };
    this.#tapsOut = {
      ...common,
      setTimer: (timer, after) => out().setTimer({ to: 'taps', timer }, after),
      emit: () => {},
    };
    this.#tacOut = {
      ...common,
      setTimer: (timer, after) => out().setTimer({ to: 'tac', timer }, after),
      emit: (event) => {
        if (event.type === 'lookupWanted') {
          this.router.handle(
            {
              type: 'command',
              command: {
                type: 'lookup',
                id: `${AUTO_LOOKUP}${this.#autoLookups++}`,
                domain: event.domain,
                others: true,
              },
            },
            0,
            this.#routingOut,
          );
        } else out().emit(event);
      },
    };
    this.#routingOut = {
      ...common,
      setTimer: (timer, after) => out().setTimer({ to: 'routing', timer }, after),
      emit: (event) => {
        if (event.id.startsWith(AUTO_LOOKUP)) {
          if (event.type === 'lookupResult')
            this.tac.handle(
              { type: 'command', command: { type: 'consider', entries: event.members } },
              0,
              this.#tacOut,
            );
          return;
        }
        out().emit(event);
      },
    };
  }

  handle(
    input: MachineInput<DiscoveryMessage, DiscoveryCommand, DiscoveryTimer>,
    now: Millis,
    out: MachineOutput<DiscoveryMessage, DiscoveryTimer, DiscoveryEvent>,
  ): void {
    if (this.optedOut) {
      this.ignored++;
      return;
    }
    this.#out = out;
    try {
      this.#dispatch(input, now);
    } finally {
      this.#out = undefined;
    }
  }

  #dispatch(input: MachineInput<DiscoveryMessage, DiscoveryCommand, DiscoveryTimer>, now: Millis): void {
    switch (input.type) {
      case 'message': {
        const { from, message } = input;
        switch (message.type) {
          case 'shuffle':
          case 'shuffleReply':
            this.taps.handle({ type: 'message', from, message }, now, this.#tapsOut);
            return;
          case 'cluster':
          case 'clusterReply':
            this.tac.handle({ type: 'message', from, message }, now, this.#tacOut);
            return;
          default:
            this.router.handle({ type: 'message', from, message }, now, this.#routingOut);
            return;
        }
      }
      case 'timer': {
        const t = input.timer;
        if (t.to === 'taps') this.taps.handle({ type: 'timer', timer: t.timer }, now, this.#tapsOut);
        else if (t.to === 'tac') this.tac.handle({ type: 'timer', timer: t.timer }, now, this.#tacOut);
        else this.router.handle({ type: 'timer', timer: t.timer }, now, this.#routingOut);
        return;
      }
      case 'command': {
        const command = input.command;
        if (command.type === 'join') {
          this.taps.handle({ type: 'command', command }, now, this.#tapsOut);
          if (this.clustering) this.tac.start(this.#tacOut);
          this.router.start(this.#routingOut);
        } else if (command.type === 'lookup') {
          this.router.handle({ type: 'command', command }, now, this.#routingOut);
        } else {
          this.tac.handle({ type: 'command', command }, now, this.#tacOut);
        }
        return;
      }
      default:
        this.taps.handle(input, now, this.#tapsOut);
        this.tac.handle(input, now, this.#tacOut);
    }
  }
}

/** The protocol definition a driver (runner or simulator) takes; hooks and config per node. */
export function discoveryProtocol(
  hooksFor: (self: PeerId) => DiscoveryHooks,
  config: Partial<DiscoveryConfig> | ((self: PeerId) => Partial<DiscoveryConfig>) = {},
): ProtocolDefinition<DiscoveryMessage, DiscoveryCommand, DiscoveryTimer, DiscoveryEvent> & {
  create(self: PeerId, rng: Rng, now: Millis): DiscoveryNode;
} {
  return {
    protocol: DISCOVERY_PROTOCOL,
    decode: decodeDiscoveryMessage,
    create: (self, rng) =>
      new DiscoveryNode(self, rng, hooksFor(self), typeof config === 'function' ? config(self) : config),
  };
}
