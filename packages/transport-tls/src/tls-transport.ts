import type { Socket } from 'node:net';
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import {
  type Connection,
  type DialOptions,
  type Listener,
  type ListenOptions,
  type Logger,
  type NodeId,
  NotStartedError,
  type Transport,
  type TransportContext,
  type TransportFactory,
} from '@netmachine/core';
import { parseAddress, selfSignedCertificate } from '@netmachine/transport';
import { dialSocket } from './dial.js';
import { TlsListener } from './listener.js';
import { emptyStats, type TlsTransportEvent, type TlsTransportStats } from './stats.js';
import { TlsConnection } from './tls-connection.js';

export interface TlsTransportOptions {
  /** `write` returns false when this many bytes are queued (default 1 MiB). */
  highWaterMark?: number;
  /** TCP connect + TLS handshake + acceptance must finish within this (default 10 s), both directions. */
  handshakeTimeoutMs?: number;
  /** Unauthenticated inbound handshakes allowed at once per listener; more are dropped (default 128). */
  maxPendingHandshakes?: number;
  /** Bytes held for a connection whose owner has not called `setHandlers` yet (default 1 MiB). */
  maxEarlyBytes?: number;
  /** How long a graceful close waits before destroying the socket (default 5 s). */
  closeTimeoutMs?: number;
  /** Told about refused, timed-out and failed handshakes as they happen. */
  onEvent?: (event: TlsTransportEvent) => void;
}

const DEFAULTS = {
  highWaterMark: 1024 * 1024,
  handshakeTimeoutMs: 10_000,
  maxPendingHandshakes: 128,
  maxEarlyBytes: 1024 * 1024,
  closeTimeoutMs: 5_000,
} as const;

/** The TLS transport as returned by `tls()`: a core `Transport` with counters. */
export interface TlsTransport extends Transport {
  readonly stats: Readonly<TlsTransportStats>;
}

/**
 * TLS 1.3 over TCP with mutual authentication by node keys: `tls://host:port` addresses.
 * `tls(options)` is handed to the node, which calls the result with its key and logger.
 */
export function tls(options: TlsTransportOptions = {}): (context: TransportContext) => TlsTransport {
  return (context) => new TlsTransportImpl(context, options);
}

// Type-level check that tls() fits where a TransportFactory is expected.
const _factoryFits: (options?: TlsTransportOptions) => TransportFactory = tls;
void _factoryFits;

class TlsTransportImpl implements TlsTransport {
  readonly protocol = 'tls';
  readonly stats = emptyStats();
  readonly #context: TransportContext;
  readonly #logger: Logger;
  readonly #settings: Required<Omit<TlsTransportOptions, 'onEvent'>>;
  readonly #onEvent: ((event: TlsTransportEvent) => void) | undefined;
  readonly #connections = new Set<TlsConnection>();
  readonly #listeners = new Set<TlsListener>();
  readonly #dials = new Set<AbortController>();
  #secureContext: Promise<SecureContext> | undefined;
  #closed = false;

  constructor(context: TransportContext, options: TlsTransportOptions) {
    this.#context = context;
    this.#logger = context.logger.child({ transport: 'tls' });
    const { onEvent, ...rest } = options;
    this.#onEvent = onEvent;
    this.#settings = { ...DEFAULTS, ...stripUndefined(rest) };
  }

  async dial(address: string, expected: NodeId, options: DialOptions = {}): Promise<Connection> {
    this.#assertOpen();
    // One controller per dial so that close() can cancel dials in flight.
    const controller = new AbortController();
    const signal =
      options.signal === undefined ? controller.signal : AbortSignal.any([options.signal, controller.signal]);
    this.#dials.add(controller);
    try {
      const dialed = await dialSocket({
        address,
        expected,
        secureContext: await this.#getSecureContext(),
        handshakeTimeoutMs: this.#settings.handshakeTimeoutMs,
        signal,
        logger: this.#logger,
      });
      this.stats.outboundEstablished++;
      return this.#adopt(
        dialed.socket,
        dialed.raw,
        expected,
        dialed.remoteAddress,
        'outbound',
        dialed.initialData,
      );
    } catch (error) {
      this.stats.dialFailures++;
      this.#emit({ type: 'dial-failed', address, error: error as Error });
      throw error;
    } finally {
      this.#dials.delete(controller);
    }
  }

  async listen(
    address: string,
    onConnection: (connection: Connection) => void,
    options: ListenOptions = {},
  ): Promise<Listener> {
    this.#assertOpen();
    const endpoint = parseAddress(address, 'tls');
    const listener = await TlsListener.open(
      {
        endpoint,
        secureContext: await this.#getSecureContext(),
        handshakeTimeoutMs: this.#settings.handshakeTimeoutMs,
        maxPendingHandshakes: this.#settings.maxPendingHandshakes,
        closeTimeoutMs: this.#settings.closeTimeoutMs,
        acceptPeer: options.acceptPeer,
        onSecureSocket: (socket, raw, node, remoteAddress, initialData) => {
          const connection = this.#adopt(socket, raw, node, remoteAddress, 'inbound', initialData);
          try {
            onConnection(connection);
          } catch (error) {
            this.#logger.error({ err: error, peer: node }, 'onConnection threw; aborting the connection');
            connection.abort(error as Error);
          }
        },
        stats: this.stats,
        emit: (event) => this.#emit(event),
        logger: this.#logger,
        signal: options.signal,
      },
      (closed) => this.#listeners.delete(closed),
    );
    this.#listeners.add(listener);
    this.#logger.debug({ addresses: listener.addresses }, 'TLS listener open');
    return listener;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const dial of this.#dials) dial.abort();
    await Promise.all([...this.#listeners].map((listener) => listener.close()));
    await Promise.all([...this.#connections].map((connection) => connection.close()));
  }

  #adopt(
    socket: TLSSocket,
    raw: Socket,
    node: NodeId,
    remoteAddress: string,
    direction: 'inbound' | 'outbound',
    initialData: Buffer | undefined,
  ): TlsConnection {
    const connection = new TlsConnection({
      socket,
      raw,
      remoteNode: node,
      remoteAddress,
      direction,
      highWaterMark: this.#settings.highWaterMark,
      maxEarlyBytes: this.#settings.maxEarlyBytes,
      closeTimeoutMs: this.#settings.closeTimeoutMs,
      initialData,
      logger: this.#logger,
      onClosed: (closed) => {
        if (this.#connections.delete(closed)) this.stats.openConnections--;
      },
    });
    if (socket.destroyed) return connection; // closed during adoption: already reported to its owner
    this.#connections.add(connection);
    this.stats.openConnections++;
    if (this.#closed) void connection.close();
    return connection;
  }

  #getSecureContext(): Promise<SecureContext> {
    this.#secureContext ??= selfSignedCertificate(this.#context.keyPair).then((certificate) =>
      createSecureContext({
        key: certificate.keyPem,
        cert: certificate.certPem,
        minVersion: 'TLSv1.3',
        maxVersion: 'TLSv1.3',
      }),
    );
    return this.#secureContext;
  }

  #emit(event: TlsTransportEvent): void {
    if (this.#onEvent === undefined) return;
    try {
      this.#onEvent(event);
    } catch (error) {
      this.#logger.warn({ err: error }, 'onEvent threw');
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new NotStartedError('TLS transport (closed)');
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
