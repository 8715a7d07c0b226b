import type { Machine, MachineInput, MachineOutput, Millis, PeerId } from '@netmachine/overlay';
import type {
  DiscoveryCommand,
  DiscoveryEvent,
  DiscoveryNode,
  DiscoveryTimer,
} from '../machines/discovery-node.js';
import type { DiscoveryMessage, PeerEntry } from '../machines/messages.js';

export interface GateHooks {
  /** True when the entry is signed by the node it names. */
  verify(entry: PeerEntry): boolean;
  /** `from` sent a message with `count` forged entries: it was dropped. */
  forged(from: PeerId, count: number): void;
}

/** The entries a message carries (gossip entries, a lookup answer's members, an announced member). */
export function entriesOf(message: DiscoveryMessage): readonly PeerEntry[] {
  switch (message.type) {
    case 'shuffle':
    case 'shuffleReply':
    case 'cluster':
    case 'clusterReply':
      return message.entries;
    case 'lookupReply':
      return message.members;
    case 'announce':
      return [message.entry];
    default:
      return [];
  }
}

/**
 * The discovery machines behind a signature check at the door: a message carrying any entry that is
 * not signed by the node it names is dropped whole and blamed on the peer that sent it (a correct node
 * checks every entry it takes in, so it never passes a forged one on). The machines check entries too;
 * this is where the sender is known, so where it can be counted against them.
 */
export class DiscoveryGate
  implements Machine<DiscoveryMessage, DiscoveryCommand, DiscoveryTimer, DiscoveryEvent>
{
  readonly self: PeerId;

  constructor(
    readonly inner: DiscoveryNode,
    private readonly hooks: GateHooks,
  ) {
    this.self = inner.self;
  }

  handle(
    input: MachineInput<DiscoveryMessage, DiscoveryCommand, DiscoveryTimer>,
    now: Millis,
    out: MachineOutput<DiscoveryMessage, DiscoveryTimer, DiscoveryEvent>,
  ): void {
    if (input.type === 'message') {
      let forged = 0;
      for (const entry of entriesOf(input.message)) if (!this.hooks.verify(entry)) forged++;
      if (forged > 0) {
        this.hooks.forged(input.from, forged);
        return;
      }
    }
    this.inner.handle(input, now, out);
  }
}
