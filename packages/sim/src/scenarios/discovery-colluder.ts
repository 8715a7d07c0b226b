import type {
  DiscoveryCommand,
  DiscoveryEvent,
  DiscoveryMessage,
  DiscoveryTimer,
  PeerEntry,
} from '@netmachine/discovery';
import type { Machine, MachineInput, MachineOutput, Millis, PeerId, Rng } from '@netmachine/overlay';
import { PERIOD, type World } from './discovery-world.js';

/** A colluder: pushes its coalition's entries at correct nodes, answers only with them, drops lookups. */
export class Colluder implements Machine<DiscoveryMessage, DiscoveryCommand, DiscoveryTimer, DiscoveryEvent> {
  readonly self: PeerId;
  droppedLookups = 0;
  readonly #rng: Rng;
  readonly #world: World;
  readonly #pushes: number;
  readonly #size: number;

  constructor(self: PeerId, rng: Rng, world: World, pushes: number, exchangeSize: number) {
    this.self = self;
    this.#rng = rng;
    this.#world = world;
    this.#pushes = pushes;
    this.#size = exchangeSize;
  }

  #entries(): PeerEntry[] {
    const colluders = this.#world.colluders;
    const own = this.#world.adverts[this.#world.index.get(this.self) as number] as PeerEntry;
    const entries: PeerEntry[] = [{ ...own, age: 0 }];
    for (let i = 1; i < this.#size; i++) {
      if (i === this.#size - 1) {
        // One forged entry per message: a ghost id, or a correct node's id with a filter of the coalition's
        // choosing; neither carries its owner's signature.
        const victim = this.#world.adverts[this.#rng.int(this.#world.adverts.length)] as PeerEntry;
        const ghost = this.#rng.next() < 0.5;
        entries.push({
          peer: ghost ? `ghost${this.#rng.int(1_000_000)}` : victim.peer,
          filter: new Uint8Array(victim.filter.length).fill(0xff),
          signature: new Uint8Array(8),
          age: 0,
        });
      } else {
        entries.push({ ...(colluders[this.#rng.int(colluders.length)] as PeerEntry), age: 0 });
      }
    }
    return entries;
  }

  handle(
    input: MachineInput<DiscoveryMessage, DiscoveryCommand, DiscoveryTimer>,
    _now: Millis,
    out: MachineOutput<DiscoveryMessage, DiscoveryTimer, DiscoveryEvent>,
  ): void {
    switch (input.type) {
      case 'command':
        if (input.command.type === 'join')
          out.setTimer({ to: 'taps', timer: { type: 'shuffle' } }, this.#rng.int(PERIOD) + 1);
        return;
      case 'timer': {
        const correct = this.#world.correct;
        for (let i = 0; i < this.#pushes; i++) {
          const victim = this.#world.ids[correct[this.#rng.int(correct.length)] as number] as PeerId;
          out.send(victim, { type: 'shuffle', entries: this.#entries() });
        }
        out.setTimer({ to: 'taps', timer: { type: 'shuffle' } }, PERIOD);
        return;
      }
      case 'message': {
        const message = input.message;
        if (message.type === 'shuffle')
          out.send(input.from, { type: 'shuffleReply', entries: this.#entries() });
        else if (message.type === 'cluster')
          out.send(input.from, { type: 'clusterReply', entries: this.#entries() });
        else if (message.type === 'lookup') this.droppedLookups++;
        return;
      }
      default:
    }
  }
}
