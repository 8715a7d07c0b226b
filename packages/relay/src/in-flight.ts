import type { EngineAddress, EngineMessage, NodeId } from '@netmachine/core';

/**
 * What a refusal needs of one sealed RelayMessage: the relay it went to and, per inner message, its
 * id, engine names, protocol and reply-to — not the message objects. Keeping those for thousands of
 * batches made every message outlive the young generation (each scavenge copied them, each major
 * collection marked them); this keeps numbers and the sender's own strings. A slot is written in
 * place for every RelayMessage: a lone message (the common case of a request or its reply) costs
 * no allocation, a batch one typed array and one array of shared strings.
 */
interface Slot {
  ref: number;
  relay: NodeId | undefined;
  src: NodeId | undefined;
  dst: NodeId | undefined;
  /** Messages recorded: 1 keeps them in the fields below, more in `numbers` and `names`. */
  count: number;
  id: number;
  /** NaN for none. */
  replyTo: number;
  srcName: string;
  dstName: string;
  protocol: string;
  /** Per message: its id, then its replyTo (NaN for none). */
  numbers: Float64Array | undefined;
  /** Per message: source engine, destination engine, protocol (the sender's own strings, not copies). */
  names: string[] | undefined;
}

const emptySlot = (): Slot => ({
  ref: 0,
  relay: undefined,
  src: undefined,
  dst: undefined,
  count: 0,
  id: 0,
  replyTo: Number.NaN,
  srcName: '',
  dstName: '',
  protocol: '',
  numbers: undefined,
  names: undefined,
});

/**
 * The RelayMessages a relay may still refuse, in a ring of `slots` (a refusal for an older one is
 * counted but fails nothing: the relay's mailbox holds at most as many as the ring).
 */
export class InFlightRing {
  /** Made as the ring first goes round, then written in place. */
  readonly #slots: (Slot | undefined)[];
  #nextRef = 1;

  constructor(slots: number) {
    this.#slots = new Array(slots);
  }

  /** Records the messages of a RelayMessage handed to `relay`; returns the ref its Forward carries. */
  record(relay: NodeId, dst: NodeId, messages: readonly EngineMessage[]): number {
    const ref = this.#nextRef++;
    if (this.#nextRef > 0xffff_ffff) this.#nextRef = 1;
    const count = messages.length;
    const index = ref % this.#slots.length;
    let slot = this.#slots[index];
    if (slot === undefined) {
      slot = emptySlot();
      this.#slots[index] = slot;
    }
    const first = messages[0] as EngineMessage;
    slot.ref = ref;
    slot.relay = relay;
    slot.src = first.src.node;
    slot.dst = dst;
    slot.count = count;
    if (count === 1) {
      slot.id = first.id;
      slot.replyTo = first.replyTo ?? Number.NaN;
      slot.srcName = first.src.name;
      slot.dstName = (first.dst as EngineAddress).name;
      slot.protocol = first.protocol;
      slot.numbers = undefined;
      slot.names = undefined;
      return ref;
    }
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
    slot.numbers = numbers;
    slot.names = names;
    return ref;
  }

  /**
   * The messages of RelayMessage `ref`, if `relay` is the one it went to and it is still in the ring,
   * as the router needs them to fail a request and report a drop (their bodies are not kept). Each
   * ref is given out once.
   */
  take(relay: NodeId, ref: number): EngineMessage[] | undefined {
    const slot = this.#slots[ref % this.#slots.length];
    if (slot === undefined || slot.count === 0 || slot.ref !== ref || slot.relay !== relay) return undefined;
    const src = slot.src as NodeId;
    const dst = slot.dst as NodeId;
    const out: EngineMessage[] = [];
    if (slot.count === 1) {
      out.push(refused(src, dst, slot.id, slot.replyTo, slot.srcName, slot.dstName, slot.protocol));
    } else {
      const numbers = slot.numbers as Float64Array;
      const names = slot.names as string[];
      for (let i = 0; i < slot.count; i++) {
        const [srcName, dstName, protocol] = names.slice(3 * i, 3 * i + 3) as [string, string, string];
        out.push(
          refused(
            src,
            dst,
            numbers[2 * i] as number,
            numbers[2 * i + 1] as number,
            srcName,
            dstName,
            protocol,
          ),
        );
      }
    }
    // Each ref is given out once.
    slot.count = 0;
    slot.numbers = undefined;
    slot.names = undefined;
    return out;
  }
}

/** A refused message as the router needs it: its id, engines, protocol and reply-to, without a body. */
function refused(
  src: NodeId,
  dst: NodeId,
  id: number,
  replyTo: number,
  srcName: string,
  dstName: string,
  protocol: string,
): EngineMessage {
  return {
    id,
    src: { node: src, name: srcName },
    dst: { node: dst, name: dstName },
    ...(Number.isNaN(replyTo) ? {} : { replyTo }),
    protocol,
    body: undefined,
  };
}
