// Test tooling for transports: the compliance suite every transport must pass (it needs vitest) and
// the small helpers transports' own tests share,
// and a fault-injecting wrapper (drop, delay, duplicate, reorder, reset, blackhole).
export {
  ConnectionProbe,
  listenOn,
  runTransportCompliance,
  Sink,
  writeAll,
} from './compliance.js';
export type { ComplianceOptions, ComplianceSetup, ListenerProcessSpec } from './compliance-setup.js';
export { FaultController, type FaultCounts, type FaultKnobs, faulty } from './faulty.js';
