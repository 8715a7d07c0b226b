import {
  type AdvertisedAddress,
  type Emitter,
  type EngineClient,
  type EngineHandler,
  type EngineOptions,
  type EngineRef,
  formatNodeAdvert,
  type KeyPair,
  type Logger,
  type NodeAdvert,
  type NodeId,
  NotStartedError,
  type PeerEvent,
  type PeerView,
  parseNodeAdvert,
  type Service,
  type Startable,
  signNodeAdvert,
} from '@netmachine/core';
import type { IdentityStore } from '@netmachine/identity-store';
import type { Router, RouterCounters } from '@netmachine/router';
import type { TransportCountersSnapshot, TransportEngine } from '@netmachine/transport';
import type { InitialPeer } from './options.js';

/** The well-known engine every node runs; a node addressed as such is this engine. */
export const ROUTER_ENGINE = 'router';

/** Earlier addresses in the list are preferred: weights 200, 150, 100, … (never below 1). */
export function weightedAddresses(urls: readonly string[]): AdvertisedAddress[] {
  return urls.map((url, i) => ({ url, weight: Math.max(1, 200 - 50 * i) }));
}

/**
 * Signs a node's advert. The version is the signing time in ms, so every re-sign (a restart with
 * new ports, a changed address list) supersedes what peers hold without a stored counter.
 */
export function signOwnAdvert(key: KeyPair, urls: readonly string[], name?: string): NodeAdvert {
  const now = Date.now();
  return signNodeAdvert(key, { addrs: weightedAddresses(urls), version: now, created: now, name });
}

/** The parts a node is made of, built by `createNode`. */
export interface NodeParts<S> {
  readonly keyPair: KeyPair;
  readonly router: Router;
  readonly transport: TransportEngine;
  readonly identity: IdentityStore;
  readonly peers: PeerView & { readonly events: Emitter<PeerEvent> };
  readonly services: S;
  readonly logger: Logger;
  readonly name: string | undefined;
  readonly initialPeers: readonly InitialPeer[];
  /** Extra advert addresses (e.g. `relay://…`), and whether the listen addresses are advertised. */
  readonly advertise?: readonly string[] | undefined;
  readonly advertiseListen?: boolean | undefined;
  /** Aborted on stop: the `signal` of every service's context. */
  readonly lifetime: AbortController;
}

/** Every counter of a node, as plain objects: router, transport and each service that has some. */
export interface NodeCounters {
  readonly router: RouterCounters;
  readonly transport: TransportCountersSnapshot;
  readonly services: Readonly<Record<string, object>>;
}

/**
 * A netmachine node: keys, identity store, router, Transport engine and the services it was given,
 * in one lifecycle. Services start in the order given (after the router, before the node listens)
 * and stop in reverse (before the router and transports).
 */
export class NetmachineNode<S extends Readonly<Record<string, Service>> = Readonly<Record<string, Service>>>
  implements Startable
{
  readonly id: NodeId;
  readonly keyPair: KeyPair;
  readonly router: Router;
  readonly transport: TransportEngine;
  readonly identity: IdentityStore;
  /** Peer connectivity in the core shape (`peer:connected`, `peer:disconnected`). */
  readonly peers: PeerView;
  readonly services: S;
  readonly logger: Logger;
  readonly name: string | undefined;
  readonly #parts: NodeParts<S>;
  #unwire: (() => void) | undefined;
  #advert: NodeAdvert | undefined;
  #startedAt = 0;
  #state: 'new' | 'starting' | 'running' | 'stopped' = 'new';

  constructor(parts: NodeParts<S>) {
    this.#parts = parts;
    this.keyPair = parts.keyPair;
    this.id = parts.keyPair.id as NodeId;
    this.router = parts.router;
    this.transport = parts.transport;
    this.identity = parts.identity;
    this.peers = parts.peers;
    this.services = parts.services;
    this.logger = parts.logger;
    this.name = parts.name;
  }

  get running(): boolean {
    return this.#state === 'running';
  }

  /** Milliseconds since `start`. */
  get uptimeMs(): number {
    return this.#startedAt ? Date.now() - this.#startedAt : 0;
  }

  /** This node's signed advert, with the addresses actually bound. */
  get advert(): NodeAdvert {
    if (!this.#advert) throw new NotStartedError('node');
    return this.#advert;
  }

  get advertText(): string {
    return formatNodeAdvert(this.advert);
  }

  /** The advert, when the node has started (what the Transport engine hands to stale peers). */
  get currentAdvert(): NodeAdvert | undefined {
    return this.#advert;
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') return;
    this.#state = 'starting';
    this.#startedAt = Date.now();
    const { identity, router, transport, peers } = this.#parts;
    await identity.start();
    for (const peer of this.#parts.initialPeers) {
      const advert = typeof peer.advert === 'string' ? parseNodeAdvert(peer.advert) : peer.advert;
      await identity.offerNodeAdvert(advert).catch(() => false);
      if (peer.trust !== undefined) await identity.setTrust(advert.id, peer.trust);
    }
    await router.start();
    router.spawn(ROUTER_ENGINE, (m, ctx) => {
      // The node's well-known engine: answers any request with who and when, for liveness checks.
      ctx.reply(m, { node: this.id, name: this.name ?? null, time: Date.now() });
    });
    const forward = (event: PeerEvent): void => peers.events.emit(event);
    const offConnected = transport.events.on('peer:connected', forward);
    const offDisconnected = transport.events.on('peer:disconnected', forward);
    this.#unwire = () => {
      offConnected();
      offDisconnected();
    };
    for (const service of Object.values(this.services)) {
      await service.start({ signal: this.#parts.lifetime.signal });
    }
    await transport.start();
    const listen = this.#parts.advertiseListen === false ? [] : transport.listenAddresses;
    this.#advert = signOwnAdvert(this.keyPair, [...listen, ...(this.#parts.advertise ?? [])], this.name);
    for (const peer of this.#parts.initialPeers) {
      if (peer.permanent) {
        const advert = typeof peer.advert === 'string' ? parseNodeAdvert(peer.advert) : peer.advert;
        this.#connectPermanent(advert.id);
      }
    }
    this.#state = 'running';
    this.logger.info({ id: this.id, listen: transport.listenAddresses }, 'node started');
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#parts.lifetime.abort(new NotStartedError('node (stopped)'));
    this.#unwire?.();
    for (const service of Object.values(this.services).reverse()) {
      await service.stop().catch((error: unknown) => this.logger.warn({ err: error }, 'service stop failed'));
    }
    await this.router.stop();
    await this.transport.stop();
    await this.identity.stop();
    this.logger.info({ id: this.id }, 'node stopped');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  spawn(name: string, handler: EngineHandler, options?: EngineOptions): EngineRef {
    return this.router.spawn(name, handler, options);
  }

  client(name: string, onMessage?: EngineHandler, options?: EngineOptions): EngineClient {
    return this.router.client(name, onMessage, options);
  }

  /** Adds a peer at run time (its advert verified and stored); a permanent peer is connected now. */
  async addPeer(
    advert: NodeAdvert | string,
    options: { permanent?: boolean; trust?: number } = {},
  ): Promise<NodeId> {
    const parsed = typeof advert === 'string' ? parseNodeAdvert(advert) : advert;
    await this.identity.offerNodeAdvert(parsed).catch(() => false);
    if (options.trust !== undefined) await this.identity.setTrust(parsed.id, options.trust);
    if (options.permanent) this.#connectPermanent(parsed.id);
    return parsed.id;
  }

  /** Every counter of the node: router, transport, and each service that counts. */
  counters(): NodeCounters {
    const services: Record<string, object> = {};
    for (const [name, service] of Object.entries(this.services)) {
      const counters = service.counters?.();
      if (counters !== undefined) services[name] = counters;
    }
    return { router: this.router.counters(), transport: this.transport.counters(), services };
  }

  /** Keeps a link to `node` up; the first attempt's failure is logged, retries go on with backoff. */
  #connectPermanent(node: NodeId): void {
    this.transport.connect(node, { permanent: true }).catch((error: unknown) => {
      this.logger.warn({ err: error, node }, 'first connection attempt failed; retrying with backoff');
    });
  }
}
