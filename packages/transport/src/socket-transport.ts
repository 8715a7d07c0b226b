import {
  type Connection,
  type DialOptions,
  Emitter,
  type KeyPair,
  type Listener,
  type ListenOptions,
  type Logger,
  type NodeId,
  NotStartedError,
  type Transport,
  type TransportContext,
} from '@netmachine/core';
import type { BufferedConnection } from './buffered-connection.js';
import { type NodeCertificate, selfSignedCertificate } from './certificate.js';
import { type HostPort, parseAddress } from './socket-address.js';

/** The counters every socket transport keeps, for metrics. Monotonic except `openConnections`. */
export interface SocketTransportStats {
  /** Handshakes that broke (not the protocol, no or bad certificate, reset, no confirmation). */
  handshakeFailures: number;
  /** Authenticated callers refused by `acceptPeer` (or by a closed listener). */
  peersRefused: number;
  inboundAccepted: number;
  outboundEstablished: number;
  /** Dials that failed (any reason, including a key mismatch). */
  dialFailures: number;
  openConnections: number;
}

export function emptySocketTransportStats(): SocketTransportStats {
  return {
    handshakeFailures: 0,
    peersRefused: 0,
    inboundAccepted: 0,
    outboundEstablished: 0,
    dialFailures: 0,
    openConnections: 0,
  };
}

/** The event every socket transport reports when a dial fails; each adds its own handshake events. */
export interface DialFailedEvent {
  readonly type: 'dial:failed';
  readonly address: string;
  readonly error: Error;
}

/** A listener the transport can close (and, for shared sockets, destroy once its connections are gone). */
export interface SocketListener extends Listener {
  close(): Promise<void>;
}

/**
 * The skeleton TLS and QUIC share: dials that `close()` can cancel and that count their failures,
 * listeners, the set of open connections (counted in `openConnections`), the node certificate,
 * `events` (core's Emitter; a throwing listener never breaks the transport), `counters()`, and a `close()` that stops listening, closes every connection and refuses
 * new work. A subclass opens its own sockets: `dialConnection` and `openListener`.
 */
export abstract class SocketTransport<
  Stats extends SocketTransportStats,
  Event extends { readonly type: string },
  Conn extends BufferedConnection,
  Lst extends SocketListener,
> implements Transport
{
  abstract readonly protocol: string;
  /** What the transport reports as it happens (besides the counters). */
  readonly events = new Emitter<Event>();
  /** The live counters, updated in place by the transport and its listeners; read them with `counters()`. */
  protected readonly stats: Stats;
  protected readonly logger: Logger;
  readonly #keyPair: KeyPair;
  readonly #connections = new Set<Conn>();
  readonly #listeners = new Set<Lst>();
  readonly #dials = new Set<AbortController>();
  #closed = false;

  protected constructor(context: TransportContext, protocol: string, stats: Stats) {
    this.#keyPair = context.keyPair;
    this.logger = context.logger.child({ transport: protocol });
    this.stats = stats;
  }

  /** A snapshot of the transport's counters, for metrics. */
  counters(): Stats {
    return { ...this.stats };
  }

  /**
   * Connects to `address`, proves `expected`'s key and returns the adopted connection. A subclass that
   * declares `sendsFirstBytesEarly` sends `firstBytes` (see `DialOptions`); the others ignore them.
   */
  protected abstract dialConnection(
    address: string,
    expected: NodeId,
    signal: AbortSignal,
    firstBytes: Uint8Array | (() => Uint8Array) | undefined,
  ): Promise<Conn>;

  /**
   * Opens a listener on `endpoint`; it gives each accepted connection (already adopted) to `accepted`,
   * and calls `onClosed` when it closes.
   */
  protected abstract openListener(
    endpoint: HostPort,
    accepted: (connection: Conn) => void,
    options: ListenOptions,
    onClosed: (listener: Lst) => void,
  ): Promise<Lst>;

  /** Called by `close()` after every connection has closed (a QUIC listener's socket outlives them). */
  protected async afterClose(_listeners: readonly Lst[]): Promise<void> {}

  protected get closed(): boolean {
    return this.#closed;
  }

  async dial(address: string, expected: NodeId, options: DialOptions = {}): Promise<Connection> {
    this.#assertOpen();
    // One controller per dial so that close() can cancel dials in flight; the caller's signal aborts
    // it too (a listener, not AbortSignal.any, which costs tens of µs per dial).
    const controller = new AbortController();
    const outer = options.signal;
    const onAbort = (): void => controller.abort(outer?.reason);
    if (outer?.aborted) controller.abort(outer.reason);
    else outer?.addEventListener('abort', onAbort, { once: true });
    const signal = controller.signal;
    this.#dials.add(controller);
    try {
      const connection = await this.dialConnection(address, expected, signal, options.firstBytes);
      this.stats.outboundEstablished++;
      return connection;
    } catch (error) {
      this.stats.dialFailures++;
      this.emit({ type: 'dial:failed', address, error: error as Error } satisfies DialFailedEvent as never);
      throw error;
    } finally {
      this.#dials.delete(controller);
      outer?.removeEventListener('abort', onAbort);
    }
  }

  async listen(
    address: string,
    onConnection: (connection: Connection) => void,
    options: ListenOptions = {},
  ): Promise<Listener> {
    this.#assertOpen();
    const endpoint = parseAddress(address, this.protocol);
    const accepted = (connection: Conn): void => {
      try {
        onConnection(connection);
      } catch (error) {
        this.logger.error({ err: error, peer: connection.remoteNode }, 'onConnection threw; aborting it');
        connection.abort(error as Error);
      }
    };
    const listener = await this.openListener(endpoint, accepted, options, (closed) =>
      this.#listeners.delete(closed),
    );
    this.#listeners.add(listener);
    this.logger.debug({ addresses: listener.addresses }, 'listener open');
    return listener;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const dial of this.#dials) dial.abort();
    const listeners = [...this.#listeners];
    await Promise.all(listeners.map((listener) => listener.close()));
    await Promise.all([...this.#connections].map((connection) => connection.close()));
    await this.afterClose(listeners);
  }

  /**
   * Counts a new connection as open until it closes (its `onClosed` must call `forget`). A connection
   * made while the transport closes is closed at once.
   */
  protected track(connection: Conn): Conn {
    if (connection.isClosed) return connection; // closed during adoption: already reported to its owner
    this.#connections.add(connection);
    this.stats.openConnections++;
    if (this.#closed) void connection.close();
    return connection;
  }

  protected forget(connection: BufferedConnection): void {
    if (this.#connections.delete(connection as Conn)) this.stats.openConnections--;
  }

  protected certificate(): Promise<NodeCertificate> {
    return selfSignedCertificate(this.#keyPair);
  }

  /** Tells the `events` listeners (core's Emitter ignores a listener that throws). */
  protected emit(event: Event): void {
    this.events.emit(event);
  }

  #assertOpen(): void {
    if (this.#closed) throw new NotStartedError(`${this.protocol} transport (closed)`);
  }
}

/** `defaults` overridden by the options that are set (an explicit `undefined` keeps the default). */
export function withDefaults<T extends object>(defaults: T, options: Partial<T>): T {
  const set = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return { ...defaults, ...set } as T;
}
