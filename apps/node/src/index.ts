export {
  addressScheme,
  type InitialPeer,
  type NodeCounters,
  type NodeOptions,
  ROUTER_ENGINE,
  type ServiceFactories,
  type ServicesOf,
  signOwnAdvert,
  weightedAddresses,
} from '@netmachine/node';
export {
  ConfigSchema,
  type NodeConfig,
  type NodeConfigInput,
  readConfig,
  validateConfig,
  writeConfig,
} from './config.js';
export { ControlClient } from './control/client.js';
export { ControlServer } from './control/server.js';
export {
  ConfigError,
  ControlRequestError,
  ControlUnavailableError,
  MapUnavailableError,
  NodeDirectoryExistsError,
  OptionalPackageMissingError,
  ServiceNotRunningError,
} from './errors.js';
export { pinFreePorts } from './free-ports.js';
export { createLogger } from './logger.js';
export { domainViews, MAP_DOMAIN_LIMIT } from './map/domain-views.js';
export { MAP_CSP } from './map/map-endpoint.js';
export { type PeerLink, PeerLinks } from './map/peer-links.js';
export type { MapDomain, MapPeer, MapSnapshot, MapTopic } from './map/snapshot.js';
export { MAP_TOPIC_LIMIT, type MapTopicInput, pubsubTopics } from './map/topics.js';
export { MetricsServer, type MetricsServerOptions } from './metrics.js';
export {
  type CreateNodeOptions,
  createNode,
  defaultServices,
  NetmachineNode,
  transportsFromConfig,
} from './node.js';
export { type NodePaths, nodePaths } from './paths.js';
export { type ConnectionStatus, type NodeStatus, nodeStatus, type PeerTraffic } from './status.js';
