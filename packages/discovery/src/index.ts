export { CountMinSketch, hashPair } from './machines/count-min.js';
export {
  type DiscoveryCommand,
  type DiscoveryConfig,
  type DiscoveryEvent,
  type DiscoveryHooks,
  DiscoveryNode,
  type DiscoveryTimer,
  discoveryProtocol,
} from './machines/discovery-node.js';
export {
  type ClusterMessage,
  type ClusterReplyMessage,
  DISCOVERY_LIMITS,
  DISCOVERY_PROTOCOL,
  type DiscoveryMessage,
  decodeDiscoveryMessage,
  decodePeerEntry,
  type LookupMessage,
  type LookupReplyMessage,
  type PeerEntry,
  type RoutingMessage,
  type ShuffleMessage,
  type ShuffleReplyMessage,
  type TacMessage,
  type TapsMessage,
} from './machines/messages.js';
export { DISCOVERY_PROTOCOLS } from './machines/protocols.js';
export {
  DEFAULT_ROUTING_CONFIG,
  DomainRouter,
  type RoutingCommand,
  type RoutingConfig,
  type RoutingCounters,
  type RoutingEvent,
  type RoutingHooks,
  type RoutingTimer,
} from './machines/routing.js';
export {
  DEFAULT_TAC_CONFIG,
  Tac,
  type TacCommand,
  type TacConfig,
  type TacCounters,
  type TacEvent,
  type TacHooks,
  type TacTimer,
} from './machines/tac.js';
export {
  DEFAULT_TAPS_CONFIG,
  Taps,
  type TapsCommand,
  type TapsConfig,
  type TapsCounters,
  type TapsEvent,
  type TapsHooks,
  type TapsTimer,
} from './machines/taps.js';
export {
  DEFAULT_URPS_CONFIG,
  UniformSampler,
  type UniformSamplerConfig,
} from './machines/urps.js';
