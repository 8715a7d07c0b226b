// Test tooling for transports: the compliance suite every transport must pass (it needs vitest),
// and a fault-injecting wrapper (drop, delay, duplicate, reorder, reset, blackhole).
export {
  type ComplianceOptions,
  type ComplianceSetup,
  ConnectionProbe,
  runTransportCompliance,
} from './compliance.js';
export { FaultController, type FaultCounts, type FaultKnobs, faulty } from './faulty.js';
