// Test tooling for transports: the compliance suite every transport must pass (it needs vitest) and
// the small helpers transports' own tests share,
// and a fault-injecting wrapper (drop, delay, duplicate, reorder, reset, blackhole).
export {
  type ComplianceOptions,
  type ComplianceSetup,
  ConnectionProbe,
  type ListenerProcessSpec,
  listenOn,
  runTransportCompliance,
  Sink,
  writeAll,
} from './compliance.js';
export { FaultController, type FaultCounts, type FaultKnobs, faulty } from './faulty.js';
