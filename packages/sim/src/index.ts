export { ScenarioUsageError, SimulationOverflowError, UnknownSimNodeError } from './errors.js';
export { EventQueue, type Scheduled } from './event-queue.js';
export { type ComponentFigures, components } from './graph.js';
export { DEFAULT_NETWORK, type LatencyModel, type NetworkModel, pairLatency } from './network.js';
export { REPLAY_DRAWN_NODES, replayHtml } from './replay/replay-html.js';
export { linePlot, type PlotOptions, type PlotSeries, table } from './report.js';
export {
  type DiscoveryScenarioOptions,
  type DiscoverySummary,
  runDiscoveryScenario,
} from './scenarios/discovery.js';
export {
  type GraphFigures,
  measureGraph,
  type OverlayFrame,
  type OverlayResult,
  type OverlayRun,
  type OverlaySample,
  type OverlayScenarioOptions,
  type OverlaySim,
  overlaySummary,
  runOverlayScenario,
} from './scenarios/overlay.js';
export {
  type OverlaySweepCase,
  type OverlaySweepOptions,
  type OverlaySweepRow,
  sweepOverlaySplits,
} from './scenarios/overlay-sweep.js';
export {
  type PhaseFigures,
  type PubsubTreeResult,
  type PubsubTreeScenarioOptions,
  type PubsubTreeSim,
  pubsubTreeCost,
  pubsubTreeSummary,
  runPubsubTreeScenario,
} from './scenarios/pubsub-tree.js';
export {
  type Adversary,
  type SimProtocol,
  type SimStats,
  Simulator,
  type SimulatorOptions,
} from './simulator.js';
export { TraceHash } from './trace-hash.js';
