import type { Millis, PeerId } from '@netmachine/overlay';
import type { PeerEntry } from './messages.js';
import type { RoutingConfig } from './routing-types.js';

interface Pointer {
  readonly entry: PeerEntry;
  readonly at: Millis;
}

/**
 * The pointers a node on an announce walk keeps: members' signed entries by domain, so that a lookup
 * drawn here can be answered for a domain the node is not in. Bounded: at most `maxPointerDomains`
 * domains and `pointersPerDomain` pointers each (the oldest go first), each live for `pointerTtl`.
 */
export class DomainPointers {
  /** Pointers by domain, oldest domain first; each domain's pointers by member, oldest first. */
  readonly #pointers = new Map<string, Map<PeerId, Pointer>>();
  readonly #config: Pick<RoutingConfig, 'maxPointerDomains' | 'pointersPerDomain' | 'pointerTtl'>;

  constructor(config: Pick<RoutingConfig, 'maxPointerDomains' | 'pointersPerDomain' | 'pointerTtl'>) {
    this.#config = config;
  }

  /** Keeps (or refreshes) a pointer to `member` for `domain`, as the newest. */
  take(domain: string, member: PeerEntry, now: Millis): void {
    let pointers = this.#pointers.get(domain);
    if (pointers === undefined) {
      pointers = new Map();
      if (this.#pointers.size >= this.#config.maxPointerDomains)
        this.#pointers.delete(this.#pointers.keys().next().value as string);
    } else {
      this.#pointers.delete(domain); // re-inserted below: newest last
    }
    this.#pointers.set(domain, pointers);
    pointers.delete(member.peer);
    pointers.set(member.peer, { entry: { ...member, age: 0 }, at: now });
    if (pointers.size > this.#config.pointersPerDomain)
      pointers.delete(pointers.keys().next().value as PeerId);
  }

  /** The live pointers for `domain`, none to `exclude`; expired ones are dropped on the way. */
  live(domain: string, now: Millis, exclude: PeerId): PeerEntry[] {
    const pointers = this.#pointers.get(domain);
    if (pointers === undefined) return [];
    const live: PeerEntry[] = [];
    for (const [peer, pointer] of pointers) {
      if (now - pointer.at > this.#config.pointerTtl) pointers.delete(peer);
      else if (peer !== exclude) live.push(pointer.entry);
    }
    if (pointers.size === 0) this.#pointers.delete(domain);
    return live;
  }
}
