import { availableParallelism } from 'node:os';
import type { Connection, KeyPair, Logger, NodeAdvert, NodeDirectory, NodeId } from '@netmachine/core';
import { TRUST_BANNED } from '@netmachine/core';
import { ConnectionSession } from './connection-session.js';
import type { TransportCounters } from './counters.js';
import type { Refusal } from './handshake.js';
import type { TransportLimits } from './limits.js';
import type { SessionHooks } from './session-options.js';
import { SignaturePool } from './signature-pool.js';

export interface SessionRegistryOptions {
  readonly node: NodeId;
  readonly keyPair: KeyPair;
  readonly directory: NodeDirectory;
  readonly strict: boolean;
  /** See `TransportEngineOptions.verifyThreads`. */
  readonly verifyThreads: number | undefined;
  /** See `TransportEngineOptions.localAdvert`. */
  readonly localAdvert: (() => NodeAdvert | undefined) | undefined;
  readonly allowUnknownPeers: boolean;
  readonly limits: TransportLimits;
  readonly counters: TransportCounters;
  readonly logger: Logger;
  readonly hooks: SessionHooks;
}

/**
 * The engine's live sessions (handshaking or open): how they are made, whether a caller is
 * admitted, the strict-mode verify threads they share, and which version of our advert each peer
 * held when we last connected. Touched per connection, never per message.
 */
export class SessionRegistry implements Iterable<ConnectionSession> {
  readonly #o: SessionRegistryOptions;
  readonly #sessions = new Set<ConnectionSession>();
  /**
   * The version of our advert each peer held when we last connected (bounded): a dial sends the
   * advert with its first messages only to a peer that may lack it.
   */
  readonly advertHeld = new Map<NodeId, number>();
  #pool: SignaturePool | undefined;

  constructor(options: SessionRegistryOptions) {
    this.#o = options;
  }

  get size(): number {
    return this.#sessions.size;
  }

  [Symbol.iterator](): Iterator<ConnectionSession> {
    return this.#sessions.values();
  }

  /** Our own advert, as peers should hold it. */
  localAdvert(): NodeAdvert | undefined {
    return this.#o.localAdvert !== undefined
      ? this.#o.localAdvert()
      : this.#o.directory.node(this.#o.node)?.advert;
  }

  /** Far over capacity: an inbound connection is not even worth a handshake. */
  get overCapacity(): boolean {
    return this.#sessions.size >= 2 * this.#o.limits.maxConnections;
  }

  /** Trust and capacity decide whether a caller may connect. */
  admit(peer: NodeId): Refusal | undefined {
    const record = this.#o.directory.node(peer);
    if (record?.trust === TRUST_BANNED) return { error: 'Denied', reason: 'banned' };
    if (record === undefined && !this.#o.allowUnknownPeers)
      return { error: 'Denied', reason: 'unknown node' };
    if (this.#sessions.size > this.#o.limits.maxConnections)
      return { error: 'OverCapacity', reason: 'too many connections' };
    return undefined;
  }

  /** Makes the session for a new connection (either direction) and tracks it until it closes. */
  create(connection: Connection): ConnectionSession {
    const o = this.#o;
    const session = new ConnectionSession({
      connection,
      keyPair: o.keyPair,
      directory: o.directory,
      localAdvert: () => this.localAdvert(),
      strict: o.strict,
      signaturePool: this.#signaturePool(),
      limits: o.limits,
      counters: o.counters,
      logger: o.logger,
      hooks: o.hooks,
    });
    this.#sessions.add(session);
    return session;
  }

  delete(session: ConnectionSession): void {
    this.#sessions.delete(session);
  }

  /** A session opened: note which version of our advert its peer holds. */
  opened(session: ConnectionSession): void {
    if (this.advertHeld.size >= this.#o.limits.maxConnections * 2) this.advertHeld.clear();
    this.advertHeld.set(session.peer, session.peerHoldsOurAdvert);
  }

  /** Closes every session (the node is stopping). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.#sessions].map((s) => s.close('shutdown', 'node stopping')));
  }

  /** Stops the verify threads and forgets every session (after `closeAll`). */
  async release(): Promise<void> {
    await this.#pool?.close();
    this.#pool = undefined;
    this.#sessions.clear();
  }

  /** The strict-mode verify threads, made with the first session that needs them. */
  #signaturePool(): SignaturePool | undefined {
    if (!this.#o.strict) return undefined;
    if (this.#pool === undefined) {
      const threads =
        this.#o.verifyThreads ?? (availableParallelism() > 1 ? Math.min(4, availableParallelism()) : 0);
      if (threads <= 0) return undefined;
      this.#pool = new SignaturePool(threads);
    }
    return this.#pool;
  }
}
