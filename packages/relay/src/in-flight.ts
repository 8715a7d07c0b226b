import type { EngineAddress, EngineMessage, NodeId } from '@netmachine/core';

/**
 * What a refusal needs of one sealed RelayMessage: the relay it went to and, per inner message, its
 * id, engine names, protocol and reply-to — not the message objects. Keeping those for thousands of
 * batches made every message outlive the young generation (each scavenge copied them, each major
 * collection marked them); this keeps one typed array and one array of shared strings per batch.
 */
interface Sealed {
  readonly ref: number;
  readonly relay: NodeId;
  readonly src: NodeId;
  readonly dst: NodeId;
  /** Per message: its id, then its replyTo (NaN for none). */
  readonly numbers: Float64Array;
  /** Per message: source engine, destination engine, protocol (the sender's own strings, not copies). */
  readonly names: string[];
}

/**
 * The RelayMessages a relay may still refuse, in a ring of `slots` (a refusal for an older one is
 * counted but fails nothing: the relay's mailbox holds at most as many as the ring).
 */
export class InFlightRing {
  readonly #slots: (Sealed | undefined)[];
  #nextRef = 1;

  constructor(slots: number) {
    this.#slots = new Array(slots);
  }

  /** Records the messages of a RelayMessage handed to `relay`; returns the ref its Forward carries. */
  record(relay: NodeId, dst: NodeId, messages: readonly EngineMessage[]): number {
    const ref = this.#nextRef++;
    if (this.#nextRef > 0xffff_ffff) this.#nextRef = 1;
    const count = messages.length;
    const numbers = new Float64Array(2 * count);
    const names = new Array<string>(3 * count);
    for (let i = 0; i < count; i++) {
      const message = messages[i] as EngineMessage;
      numbers[2 * i] = message.id;
      numbers[2 * i + 1] = message.replyTo ?? Number.NaN;
      names[3 * i] = message.src.name;
      names[3 * i + 1] = (message.dst as EngineAddress).name;
      names[3 * i + 2] = message.protocol;
    }
    const src = (messages[0] as EngineMessage).src.node;
    this.#slots[ref % this.#slots.length] = { ref, relay, src, dst, numbers, names };
    return ref;
  }

  /**
   * The messages of RelayMessage `ref`, if `relay` is the one it went to and it is still in the ring,
   * as the router needs them to fail a request and report a drop (their bodies are not kept). Each
   * ref is given out once.
   */
  take(relay: NodeId, ref: number): EngineMessage[] | undefined {
    const index = ref % this.#slots.length;
    const sealed = this.#slots[index];
    if (sealed === undefined || sealed.ref !== ref || sealed.relay !== relay) return undefined;
    this.#slots[index] = undefined;
    const { src, dst, numbers, names } = sealed;
    const out: EngineMessage[] = [];
    for (let i = 0; i < numbers.length / 2; i++) {
      const replyTo = numbers[2 * i + 1] as number;
      out.push({
        id: numbers[2 * i] as number,
        src: { node: src, name: names[3 * i] as string },
        dst: { node: dst, name: names[3 * i + 1] as string },
        ...(Number.isNaN(replyTo) ? {} : { replyTo }),
        protocol: names[3 * i + 2] as string,
        body: undefined,
      });
    }
    return out;
  }
}
