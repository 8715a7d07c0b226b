export { addressScheme, checkListenSchemes, createNode } from './create-node.js';
export {
  NetmachineNode,
  type NodeCounters,
  type NodeParts,
  ROUTER_ENGINE,
  signOwnAdvert,
  weightedAddresses,
} from './node.js';
export type { InitialPeer, NodeOptions, ServiceFactories, ServicesOf } from './options.js';
