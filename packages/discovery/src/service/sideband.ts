import {
  type DomainAdvert,
  type DomainId,
  type EngineClient,
  type EngineContext,
  type EngineMessage,
  type EngineRef,
  type Logger,
  type NodeAdvert,
  type NodeId,
  nodeAdvertToWire,
} from '@netmachine/core';
import { gatedRouter, type RunnerRouter } from '@netmachine/overlay';
import type { DiscoveryMessage, PeerEntry } from '../machines/messages.js';
import { decodePeerEntry } from '../machines/messages.js';
import {
  ADVERTS_ENGINE,
  ADVERTS_PROTOCOL,
  type AdvertBundle,
  decodeAdverts,
  encodeAdverts,
  MAX_DOMAIN_ADVERTS,
  MAX_NODE_ADVERTS,
  SentAdverts,
} from './adverts.js';
import { entriesOf } from './gate.js';
import type { DiscoveryDirectory, DiscoveryDomains } from './options.js';
import type { PsiExchangeRouter } from './psi-exchange.js';

/** Offers still being stored, tracked so a send to a node just announced waits for its advert. */
const MAX_PENDING_OFFERS = 256;
/** Domain adverts learned from lookup answers. */
const MAX_DOMAIN_ADVERTS_KEPT = 64;
/** Time for one hello. */
const HELLO_TIMEOUT_MS = 3000;

export interface AdvertsChannel {
  /** Announces to `to` the adverts a discovery message to it names, before the message itself. */
  announce(to: NodeId, message: DiscoveryMessage, domains: DiscoveryDomains | undefined): void;
  /** A promise that settles once the advert of `node` just announced to this node is stored. */
  pending(node: NodeId): Promise<unknown> | undefined;
}

export interface SidebandOptions {
  readonly router: PsiExchangeRouter;
  readonly directory: DiscoveryDirectory;
  readonly self: NodeId;
  readonly ownEntry: () => PeerEntry | undefined;
  readonly localAdvert: () => NodeAdvert | undefined;
  readonly logger: Logger;
}

/**
 * The discovery service's side channel, engine `discovery.adverts`: advert announcements beside the
 * gossip (so peers named in gossip can be reached) and `hello`, which asks a peer for its signed entry
 * to start gossip with.
 */
export class AdvertsSideband implements AdvertsChannel {
  readonly #o: SidebandOptions;
  readonly #sent = new SentAdverts();
  readonly #offers = new Map<NodeId, Promise<unknown>>();
  readonly #domainAdverts = new Map<DomainId, DomainAdvert>();
  readonly #waiters = new Map<DomainId, ((advert: DomainAdvert | undefined) => void)[]>();
  readonly #counts = { stored: 0, refused: 0 };
  #engine: EngineRef | undefined;
  #client: EngineClient | undefined;

  constructor(options: SidebandOptions) {
    this.#o = options;
  }

  start(): void {
    this.#engine = this.#o.router.spawn(ADVERTS_ENGINE, (m, ctx) => this.#handle(m, ctx), {
      mailboxSize: 256,
      mailboxPolicy: 'drop-oldest',
    });
    this.#client = this.#o.router.client(`${ADVERTS_ENGINE}.client`);
  }

  async stop(): Promise<void> {
    await this.#client?.stop();
    await this.#engine?.stop();
  }

  counters(): { stored: number; refused: number } {
    return { ...this.#counts };
  }

  /** The advert of a domain a lookup answer brought. */
  domainAdvert(domain: DomainId): DomainAdvert | undefined {
    return this.#domainAdverts.get(domain);
  }

  /**
   * The advert of `domain`, waiting up to `timeoutMs` for it: a lookup answer and the announcement before
   * it go to two engines, and the answer may be handled first.
   */
  async whenDomainAdvert(domain: DomainId, timeoutMs: number): Promise<DomainAdvert | undefined> {
    const known = this.#domainAdverts.get(domain);
    if (known !== undefined || this.#waiters.size >= MAX_DOMAIN_ADVERTS_KEPT) return known;
    return new Promise((resolve) => {
      const done = (advert: DomainAdvert | undefined) => {
        clearTimeout(timer);
        const list = this.#waiters.get(domain)?.filter((w) => w !== done) ?? [];
        if (list.length === 0) this.#waiters.delete(domain);
        else this.#waiters.set(domain, list);
        resolve(advert);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.#waiters.set(domain, [...(this.#waiters.get(domain) ?? []), done]);
    });
  }

  pending(node: NodeId): Promise<unknown> | undefined {
    return this.#offers.get(node);
  }

  announce(to: NodeId, message: DiscoveryMessage, domains: DiscoveryDomains | undefined): void {
    const client = this.#client;
    if (client === undefined) return;
    const nodes = new Set<NodeId>();
    for (const entry of entriesOf(message)) nodes.add(entry.peer as NodeId);
    const domainAdverts: DomainAdvert[] = [];
    if (message.type === 'lookup') {
      // The member that answers writes to the origin directly: it needs the origin's address.
      if (message.path[0] !== undefined) nodes.add(message.path[0] as NodeId);
    } else if (message.type === 'lookupReply' || message.type === 'announce') {
      // A member's answer or announce carries its domain's advert; a node answering from a pointer
      // passes on the advert the announce brought.
      const domain = message.domain as DomainId;
      const advert = domains?.advert(domain) ?? this.#domainAdverts.get(domain);
      if (advert !== undefined) {
        domainAdverts.push(advert);
        for (const seed of advert.nodes) nodes.add(seed);
      }
    }
    nodes.delete(to);
    const adverts: NodeAdvert[] = [];
    for (const node of nodes) {
      const advert = node === this.#o.self ? this.#o.localAdvert() : this.#o.directory.node(node)?.advert;
      if (advert !== undefined) adverts.push(advert);
      if (adverts.length >= MAX_NODE_ADVERTS) break;
    }
    const bundle: AdvertBundle = {
      nodes: this.#sent.fresh(to, adverts),
      domains: this.#sent.fresh(to, domainAdverts.slice(0, MAX_DOMAIN_ADVERTS)),
    };
    if (bundle.nodes.length === 0 && bundle.domains.length === 0) return;
    const send = () => {
      try {
        client.send({ node: to, name: ADVERTS_ENGINE }, encodeAdverts(bundle), {
          protocol: ADVERTS_PROTOCOL,
        });
      } catch (error) {
        // Not sent: forget what was marked as sent, so the next message to `to` carries these adverts.
        this.#sent.forget(to);
        this.#o.logger.debug({ err: error, peer: to }, 'advert announcement not sent');
      }
    };
    // The advert naming `to`'s addresses may have come with the message being answered and still be
    // on its way into the identity store: sent now, the announcement would find no address and be lost
    // while the answer, held by the gate on the same promise, goes later. Sent on that promise, it
    // stays ahead of the answer (reactions run in the order they were registered).
    const storing = this.#offers.get(to);
    if (storing === undefined) send();
    else void storing.then(send, send);
  }

  /** Asks `peers` for their signed entries; resolves with those that answered (unverified). */
  async hello(peers: readonly NodeId[]): Promise<PeerEntry[]> {
    const client = this.#client;
    if (client === undefined) return [];
    const answers = await Promise.allSettled(
      peers.map((peer) =>
        client.request(
          { node: peer, name: ADVERTS_ENGINE },
          { t: 'hello' },
          {
            protocol: ADVERTS_PROTOCOL,
            timeoutMs: HELLO_TIMEOUT_MS,
          },
        ),
      ),
    );
    const entries: PeerEntry[] = [];
    answers.forEach((answer, i) => {
      if (answer.status !== 'fulfilled') return;
      const body = answer.value.body as { t?: unknown; entry?: unknown } | undefined;
      if (typeof body !== 'object' || body === null || body.entry === undefined) return;
      try {
        const entry = decodePeerEntry(body.entry, 'hello.entry');
        if (entry.peer === peers[i]) entries.push(entry);
      } catch {
        this.#counts.refused++;
      }
    });
    return entries;
  }

  #handle(message: EngineMessage, ctx: EngineContext): void {
    if (message.protocol !== ADVERTS_PROTOCOL) return;
    const body = message.body as { t?: unknown } | undefined;
    if (typeof body !== 'object' || body === null) {
      this.#counts.refused++;
      return;
    }
    if (body.t === 'hello') {
      const entry = this.#o.ownEntry();
      const advert = this.#o.localAdvert();
      ctx.reply(
        message,
        {
          t: 'hello',
          ...(entry ? { entry: { ...entry, age: 0 } } : {}),
          ...(advert ? { advert: nodeAdvertToWire(advert) } : {}),
        },
        { protocol: ADVERTS_PROTOCOL },
      );
      return;
    }
    if (body.t !== 'adverts') {
      this.#counts.refused++;
      return;
    }
    let bundle: ReturnType<typeof decodeAdverts>;
    try {
      bundle = decodeAdverts(body);
    } catch {
      this.#counts.refused++;
      return;
    }
    this.#counts.refused += bundle.refused;
    for (const advert of bundle.nodes) {
      if (advert.id === this.#o.self) continue;
      const offer = this.#o.directory.offerNodeAdvert(advert).then(
        (stored) => {
          if (stored) this.#counts.stored++;
        },
        () => {
          this.#counts.refused++;
        },
      );
      if (this.#offers.size < MAX_PENDING_OFFERS) {
        this.#offers.set(advert.id, offer);
        void offer.finally(() => {
          if (this.#offers.get(advert.id) === offer) this.#offers.delete(advert.id);
        });
      }
    }
    for (const advert of bundle.domains) {
      if (!this.#domainAdverts.has(advert.id) && this.#domainAdverts.size >= MAX_DOMAIN_ADVERTS_KEPT) {
        const oldest = this.#domainAdverts.keys().next().value;
        if (oldest !== undefined) this.#domainAdverts.delete(oldest);
      }
      const known = this.#domainAdverts.get(advert.id);
      if (known === undefined || known.version < advert.version) this.#domainAdverts.set(advert.id, advert);
      for (const wake of this.#waiters.get(advert.id) ?? []) wake(advert);
      this.#o.directory.offerDomainAdvert?.(advert).catch(() => undefined);
    }
  }
}

/**
 * The router as the discovery runner sees it: every discovery message is preceded by the adverts it
 * names, and a message to a node whose advert was just announced to this node waits until it is stored.
 */
export function advertisingRouter(
  router: PsiExchangeRouter & { readonly node: NodeId },
  channel: AdvertsChannel,
  domains: () => DiscoveryDomains | undefined,
): RunnerRouter {
  return gatedRouter(router as unknown as RunnerRouter, (node, body) => {
    channel.announce(node, body as DiscoveryMessage, domains());
    return channel.pending(node);
  });
}
