export {
  BROADCAST_OVERLAY_PROTOCOL,
  BroadcastOverlay,
  type BroadcastOverlayCommand,
  type BroadcastOverlayEvent,
  type BroadcastOverlayMessage,
  type BroadcastOverlayOptions,
  type BroadcastOverlayOutput,
  type BroadcastOverlayTimer,
  broadcastOverlay,
  decodeBroadcastOverlayMessage,
} from './broadcast-overlay.js';
export { ProtocolDecodeError } from './errors.js';
export {
  DEFAULT_HYPARVIEW_CONFIG,
  HyParView,
  type HyParViewCommand,
  type HyParViewConfig,
  type HyParViewEvent,
  type HyParViewInput,
  type HyParViewOutput,
  type HyParViewTimer,
  hyparview,
} from './hyparview.js';
export {
  type ComponentLabel,
  type DisconnectMessage,
  decodeHyParViewMessage,
  type ForwardJoinMessage,
  HYPARVIEW_LIMITS,
  HYPARVIEW_PROTOCOL,
  type HyParViewMessage,
  type JoinMessage,
  type NeighborMessage,
  type NeighborReplyMessage,
  type ProbeMessage,
  type ProbeReplyMessage,
  type ShuffleMessage,
  type ShuffleReplyMessage,
} from './hyparview-messages.js';
export {
  ProtocolRunner,
  type ProtocolRunnerOptions,
  type RunnerCounters,
  type RunnerListener,
  type RunnerPeerEvent,
  type RunnerRouter,
  type RunnerTransport,
} from './node-runner.js';
export { PlumTree, plumtree } from './plumtree.js';
export {
  decodePlumTreeMessage,
  type GossipMessage,
  type GraftMessage,
  type IHaveEntry,
  type IHaveMessage,
  PLUMTREE_LIMITS,
  PLUMTREE_PROTOCOL,
  type PlumTreeMessage,
  type PruneMessage,
  type ReplyMessage,
  type WantMessage,
} from './plumtree-messages.js';
export {
  DEFAULT_PLUMTREE_OPTIONS,
  orderOfId,
  type PlumTreeOptions,
  sourceOfId,
} from './plumtree-options.js';
export type {
  PlumTreeCommand,
  PlumTreeCounters,
  PlumTreeEvent,
  PlumTreeInput,
  PlumTreeOutput,
  PlumTreeSizes,
  PlumTreeTimer,
} from './plumtree-types.js';
export type {
  Machine,
  MachineInput,
  MachineOutput,
  MessageDecoder,
  Millis,
  PeerId,
  ProtocolDefinition,
  Rng,
} from './protocol.js';
export { pick, seededRng, shuffleInPlace, Xoshiro128 } from './rng.js';
export { gatedRouter, type SendGate } from './send-gate.js';
export { type LinkControl, SharedLinks } from './shared-links.js';
export { TimerQueue } from './timer-queue.js';
