export { signOwnAdvert, weightedAddresses } from './advert.js';
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
  NodeDirectoryExistsError,
} from './errors.js';
export { createLogger } from './logger.js';
export { MetricsServer } from './metrics.js';
export { type CreateNodeOptions, createNode, NetmachineNode } from './node.js';
export { type NodePaths, nodePaths } from './paths.js';
export type { ConnectionStatus, NodeStatus } from './status.js';
