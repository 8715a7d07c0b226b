export {
  type BlipCounts,
  type BlipParams,
  BlipParamsError,
  blipCounts,
  blipFilter,
  blipFilterBytes,
  blipFlipProbability,
  blipPositions,
  blipSimilarity,
  blipTargetSimilarity,
  bloomFilter,
  checkBlipParams,
  DEFAULT_BLIP_PARAMS,
  MAX_BLIP_BITS,
  MAX_BLIP_HASHES,
} from './blip.js';
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
  type AnnounceMessage,
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
export { DomainRouter } from './machines/routing.js';
export {
  DEFAULT_ROUTING_CONFIG,
  type RoutingCommand,
  type RoutingConfig,
  type RoutingCounters,
  type RoutingEvent,
  type RoutingHooks,
  type RoutingTimer,
} from './machines/routing-types.js';
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
export {
  decodePsiMessage,
  encodePsiMessage,
  PSI_LIMITS,
  PSI_PROTOCOL,
  type PsiFinish,
  type PsiInitiatorState,
  type PsiMessage,
  type PsiOptions,
  PsiProtocolError,
  type PsiRequest,
  type PsiResponderState,
  type PsiResponse,
  PsiSetTooLargeError,
  psiComplete,
  psiFinish,
  psiRequest,
  psiRespond,
} from './psi.js';
export {
  ADVERTS_ENGINE,
  ADVERTS_PROTOCOL,
  MAX_DOMAIN_ADVERTS,
  MAX_NODE_ADVERTS,
} from './service/adverts.js';
export { DISCOVERY_ENGINE } from './service/discovery-runner.js';
export { ENTRY_SIGNATURE_BYTES, entryIssued, signEntry, verifyEntry } from './service/entries.js';
export { DiscoveryNotReadyError, LookupFailedError, NotParticipatingError } from './service/errors.js';
export { discovery } from './service/factory.js';
export type {
  DiscoveryDirectory,
  DiscoveryDomains,
  DiscoveryOptions,
  DiscoveryRouter,
  DiscoveryServiceOptions,
  LookupResult,
} from './service/options.js';
export {
  PSI_ENGINE,
  type PsiCounters,
  type PsiExchangeRouter,
  PsiRefusedError,
} from './service/psi-exchange.js';
export { DiscoveryService } from './service/service.js';
export type {
  DiscoveryServiceCounters,
  DiscoveryServiceEvent,
  DiscoveryViews,
} from './service/service-reports.js';
