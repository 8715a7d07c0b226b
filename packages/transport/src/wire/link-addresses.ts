import type { EngineAddress, NodeId } from '@netmachine/core';

/** Names kept per side before the book starts again: a link talks to a few engines, a hostile peer to many. */
const MAX_NAMES = 256;

/**
 * The engine addresses of one link's messages: `{ node: peer, name }` for sources and
 * `{ node: local, name }` for destinations, made once per name and shared by every message that
 * names it, instead of two new objects per message. Addresses are never changed once made, so
 * sharing them is safe (the router does the same with an engine's own address).
 */
export class LinkAddresses {
  readonly peer: NodeId;
  readonly local: NodeId;
  readonly #sources = new Map<string, EngineAddress>();
  readonly #destinations = new Map<string, EngineAddress>();
  /** The last address of each side: most links carry one conversation at a time. */
  #lastSource: EngineAddress | undefined;
  #lastDestination: EngineAddress | undefined;

  constructor(peer: NodeId, local: NodeId) {
    this.peer = peer;
    this.local = local;
  }

  src(name: string): EngineAddress {
    const last = this.#lastSource;
    if (last !== undefined && last.name === name) return last;
    const address = lookUp(this.#sources, this.peer, name);
    this.#lastSource = address;
    return address;
  }

  dst(name: string): EngineAddress {
    const last = this.#lastDestination;
    if (last !== undefined && last.name === name) return last;
    const address = lookUp(this.#destinations, this.local, name);
    this.#lastDestination = address;
    return address;
  }
}

function lookUp(book: Map<string, EngineAddress>, node: NodeId, name: string): EngineAddress {
  let address = book.get(name);
  if (address === undefined) {
    if (book.size >= MAX_NAMES) book.clear();
    address = { node, name };
    book.set(name, address);
  }
  return address;
}
