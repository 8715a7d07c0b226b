// Test tooling for packages whose tests run whole nodes: a node wired by hand on loopback, with
// the services a test builds itself, and the short timings those tests run domains with.
export {
  FAST_DOMAIN_TIMINGS,
  type LoopbackNode,
  type LoopbackNodeOptions,
  type LoopbackParts,
  type LoopbackService,
  type LoopbackServices,
  startLoopbackNode,
} from './loopback-node.js';
