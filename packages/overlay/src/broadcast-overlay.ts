import { ProtocolDecodeError } from './errors.js';
import {
  HyParView,
  type HyParViewCommand,
  type HyParViewConfig,
  type HyParViewEvent,
  type HyParViewOutput,
  type HyParViewTimer,
} from './hyparview.js';
import { decodeHyParViewMessage, type HyParViewMessage } from './hyparview-messages.js';
import { PlumTree } from './plumtree.js';
import { decodePlumTreeMessage, type PlumTreeMessage } from './plumtree-messages.js';
import type { PlumTreeOptions } from './plumtree-options.js';
import type { PlumTreeCommand, PlumTreeEvent, PlumTreeOutput, PlumTreeTimer } from './plumtree-types.js';
import type {
  Machine,
  MachineInput,
  MachineOutput,
  Millis,
  PeerId,
  ProtocolDefinition,
  Rng,
} from './protocol.js';

// HyParView and PlumTree as one machine, for a driver that runs one protocol per node (the simulator, or
// a runner with one engine per domain). Messages and timers are tagged with the part they belong to;
// HyParView's view changes become PlumTree's neighborUp/neighborDown, so the tree always runs over the
// current active view.

/** The protocol's name and version on the wire. */
export const BROADCAST_OVERLAY_PROTOCOL = 'broadcast-overlay/1';

export type BroadcastOverlayMessage =
  | { readonly type: 'hyparview'; readonly message: HyParViewMessage }
  | { readonly type: 'plumtree'; readonly message: PlumTreeMessage };

/** HyParView's commands (join, leave) and PlumTree's broadcast and fetch; neighbours are managed inside. */
export type BroadcastOverlayCommand =
  | HyParViewCommand
  | Exclude<PlumTreeCommand, { readonly type: 'neighborUp' | 'neighborDown' }>;

export type BroadcastOverlayTimer =
  | { readonly type: 'hyparview'; readonly timer: HyParViewTimer }
  | { readonly type: 'plumtree'; readonly timer: PlumTreeTimer };

export type BroadcastOverlayEvent = HyParViewEvent | PlumTreeEvent;

export type BroadcastOverlayOutput = MachineOutput<
  BroadcastOverlayMessage,
  BroadcastOverlayTimer,
  BroadcastOverlayEvent
>;

export interface BroadcastOverlayOptions {
  readonly hyparview?: Partial<HyParViewConfig>;
  readonly plumtree?: PlumTreeOptions;
}

function fail(path: string, problem: string): never {
  throw new ProtocolDecodeError(BROADCAST_OVERLAY_PROTOCOL, path, problem);
}

/** The strict decoder: the tag, then the tagged part's own strict decoder. */
export function decodeBroadcastOverlayMessage(value: unknown): BroadcastOverlayMessage {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    fail('$', 'expected a message object');
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key !== 'type' && key !== 'message') fail(key, 'unexpected field');
  }
  switch (record.type) {
    case 'hyparview':
      return { type: 'hyparview', message: decodeHyParViewMessage(record.message) };
    case 'plumtree':
      return { type: 'plumtree', message: decodePlumTreeMessage(record.message) };
    default:
      return fail('type', "expected 'hyparview' or 'plumtree'");
  }
}

export class BroadcastOverlay
  implements
    Machine<BroadcastOverlayMessage, BroadcastOverlayCommand, BroadcastOverlayTimer, BroadcastOverlayEvent>
{
  readonly self: PeerId;
  /** The membership part (read-only use: views, sizes). */
  readonly overlay: HyParView;
  /** The broadcast part (read-only use: eager and lazy peers, counters). */
  readonly tree: PlumTree;
  /** The driver's output for the input being handled; the two parts' outputs forward to it. */
  #out: BroadcastOverlayOutput | undefined;
  #now: Millis;
  readonly #overlayOut: HyParViewOutput;
  readonly #treeOut: PlumTreeOutput;

  constructor(self: PeerId, rng: Rng, now: Millis, options: BroadcastOverlayOptions = {}) {
    this.self = self;
    this.#now = now;
    this.overlay = new HyParView(self, rng, options.hyparview);
    this.tree = new PlumTree(self, rng, now, options.plumtree);
    const out = () => this.#out as BroadcastOverlayOutput;
    this.#overlayOut = {
      send: (to, message) => out().send(to, { type: 'hyparview', message }),
      connect: (peer) => out().connect(peer),
      disconnect: (peer) => out().disconnect(peer),
      setTimer: (timer, after) => out().setTimer({ type: 'hyparview', timer }, after),
      emit: (event) => {
        out().emit(event);
        // The tree follows the active view, in the order the view changed.
        const type = event.type === 'peerAddedToView' ? 'neighborUp' : 'neighborDown';
        this.tree.handle({ type: 'command', command: { type, peer: event.peer } }, this.#now, this.#treeOut);
      },
    };
    this.#treeOut = {
      send: (to, message) => out().send(to, { type: 'plumtree', message }),
      connect: (peer) => out().connect(peer),
      disconnect: (peer) => out().disconnect(peer),
      setTimer: (timer, after) => out().setTimer({ type: 'plumtree', timer }, after),
      emit: (event) => out().emit(event),
    };
  }

  handle(
    input: MachineInput<BroadcastOverlayMessage, BroadcastOverlayCommand, BroadcastOverlayTimer>,
    now: Millis,
    out: BroadcastOverlayOutput,
  ): void {
    this.#out = out;
    this.#now = now;
    try {
      switch (input.type) {
        case 'message':
          if (input.message.type === 'hyparview') {
            this.overlay.handle(
              { type: 'message', from: input.from, message: input.message.message },
              now,
              this.#overlayOut,
            );
          } else {
            this.tree.handle(
              { type: 'message', from: input.from, message: input.message.message },
              now,
              this.#treeOut,
            );
          }
          return;
        case 'timer':
          if (input.timer.type === 'hyparview') {
            this.overlay.handle({ type: 'timer', timer: input.timer.timer }, now, this.#overlayOut);
          } else {
            this.tree.handle({ type: 'timer', timer: input.timer.timer }, now, this.#treeOut);
          }
          return;
        case 'peerUp':
        case 'peerDown':
          this.overlay.handle(input, now, this.#overlayOut);
          return;
        case 'command': {
          const command = input.command;
          if (command.type === 'join' || command.type === 'leave') {
            this.overlay.handle({ type: 'command', command }, now, this.#overlayOut);
          } else {
            this.tree.handle({ type: 'command', command }, now, this.#treeOut);
          }
          return;
        }
      }
    } finally {
      this.#out = undefined;
    }
  }
}

/** HyParView and PlumTree as one protocol definition, for the node runner and the simulator. */
export function broadcastOverlay(options: BroadcastOverlayOptions = {}): ProtocolDefinition<
  BroadcastOverlayMessage,
  BroadcastOverlayCommand,
  BroadcastOverlayTimer,
  BroadcastOverlayEvent
> & {
  create(self: PeerId, rng: Rng, now: Millis): BroadcastOverlay;
} {
  return {
    protocol: BROADCAST_OVERLAY_PROTOCOL,
    decode: decodeBroadcastOverlayMessage,
    create: (self, rng, now) => new BroadcastOverlay(self, rng, now, options),
  };
}
