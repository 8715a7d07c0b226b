import type {
  KeyPair,
  Logger,
  NodeAdvert,
  Service,
  ServiceContext,
  TransportFactory,
} from '@netmachine/core';
import type { IdentityStore } from '@netmachine/identity-store';
import type { BackoffOptions, TransportLimits } from '@netmachine/transport';

/**
 * Service factories by name. A factory may declare a narrower context than `ServiceContext` (e.g.
 * `Pick<ServiceContext, 'router' | 'keyPair'>`): it is then given the whole context and uses what it declared.
 */
export type ServiceFactories = Record<string, (context: ServiceContext) => Service | Promise<Service>>;

/** The running services of a node built from `F`, by name and with their own types. */
export type ServicesOf<F extends ServiceFactories> = { readonly [K in keyof F]: Awaited<ReturnType<F[K]>> };

/** A peer the node knows from the start. */
export interface InitialPeer {
  readonly advert: NodeAdvert | string;
  /** Keep a connection up at all times (re-established after a loss). Default false. */
  readonly permanent?: boolean;
  /** 0 = banned, 128 = default, 255 = fully trusted. */
  readonly trust?: number;
}

export interface NodeOptions<F extends ServiceFactories = ServiceFactories> {
  /** Transport plugins: the node dials and listens only through these. */
  readonly transports: readonly TransportFactory[];
  /** Addresses to listen on; each scheme must be one of the transports' (checked by `createNode`). */
  readonly listen?: readonly string[];
  /** Services by name, started in this order and stopped in reverse. A node runs only these. */
  readonly services?: F;
  /** The node's key (default: a new one). */
  readonly keyPair?: KeyPair;
  /** The node directory; the node stops it on stop (default: a new in-memory store). */
  readonly identity?: IdentityStore;
  /** A directory services may keep files in; omit for an in-memory node. */
  readonly dataDir?: string;
  readonly logger?: Logger;
  /** The name in the node's advert. */
  readonly name?: string;
  /** Sign and verify every message, not only those that cross a third party. */
  readonly strict?: boolean;
  /** Transport protocols in order of preference when neither message nor node record says. */
  readonly transportOrder?: readonly string[];
  readonly peers?: readonly InitialPeer[];
  /**
   * Addresses the advert lists besides the bound listen addresses, e.g. `relay://<relay node id>`
   * for a node reached through a relay.
   */
  readonly advertise?: readonly string[];
  /**
   * Whether the advert lists the bound listen addresses (default true). A node that cannot accept
   * inbound connections sets false and advertises only its relays.
   */
  readonly advertiseListen?: boolean;
  /** Request timeout of the router (default 10 s). */
  readonly requestTimeoutMs?: number;
  readonly transportLimits?: Partial<TransportLimits>;
  /** Reconnection backoff of permanent links. */
  readonly backoff?: BackoffOptions;
}
