import { constants } from 'node:crypto';
import type { Socket } from 'node:net';
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import type {
  EventSource,
  ListenOptions,
  NodeId,
  Transport,
  TransportContext,
  TransportFactory,
} from '@netmachine/core';
import { type HostPort, SocketTransport, withDefaults } from '@netmachine/transport';
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
}

const DEFAULTS = {
  highWaterMark: 1024 * 1024,
  handshakeTimeoutMs: 10_000,
  maxPendingHandshakes: 128,
  maxEarlyBytes: 1024 * 1024,
  closeTimeoutMs: 5_000,
} as const;

/** The TLS transport as returned by `tls()`: a core `Transport` with events and counters. */
export interface TlsTransport extends Transport {
  /** Refused, timed-out and failed handshakes and failed dials, as they happen. */
  readonly events: EventSource<TlsTransportEvent>;
  /** A snapshot of the counters, for metrics. */
  counters(): TlsTransportStats;
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

class TlsTransportImpl
  extends SocketTransport<TlsTransportStats, TlsTransportEvent, TlsConnection, TlsListener>
  implements TlsTransport
{
  readonly protocol = 'tls';
  /** The dialer's first bytes ride with its key confirmation (see dial.ts). */
  readonly sendsFirstBytesEarly = true;
  readonly #settings: Required<TlsTransportOptions>;
  #secureContext: Promise<SecureContext> | undefined;
  /** The context once made: a dial then opens its socket without waiting for a promise. */
  #secureContextMade: SecureContext | undefined;

  constructor(context: TransportContext, options: TlsTransportOptions) {
    super(context, 'tls', emptyStats());
    this.#settings = withDefaults<Required<TlsTransportOptions>>(DEFAULTS, options);
  }

  protected async dialConnection(
    address: string,
    expected: NodeId,
    signal: AbortSignal,
    firstBytes: Uint8Array | (() => Uint8Array) | undefined,
  ): Promise<TlsConnection> {
    const dialed = await dialSocket({
      address,
      expected,
      firstBytes,
      secureContext: this.#secureContextMade ?? (await this.#getSecureContext()),
      handshakeTimeoutMs: this.#settings.handshakeTimeoutMs,
      signal,
      logger: this.logger,
    });
    return this.#adopt(
      dialed.socket,
      dialed.raw,
      expected,
      dialed.remoteAddress,
      'outbound',
      dialed.initialData,
    );
  }

  protected async openListener(
    endpoint: HostPort,
    accepted: (connection: TlsConnection) => void,
    options: ListenOptions,
    onClosed: (listener: TlsListener) => void,
  ): Promise<TlsListener> {
    return TlsListener.open(
      {
        endpoint,
        secureContext: await this.#getSecureContext(),
        handshakeTimeoutMs: this.#settings.handshakeTimeoutMs,
        maxPendingHandshakes: this.#settings.maxPendingHandshakes,
        closeTimeoutMs: this.#settings.closeTimeoutMs,
        acceptPeer: options.acceptPeer,
        onSecureSocket: (socket, raw, node, remoteAddress, initialData) =>
          accepted(this.#adopt(socket, raw, node, remoteAddress, 'inbound', initialData)),
        stats: this.stats,
        emit: (event) => this.emit(event),
        logger: this.logger,
        signal: options.signal,
      },
      onClosed,
    );
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
      logger: this.logger,
      onClosed: (closed) => this.forget(closed),
    });
    return this.track(connection);
  }

  #getSecureContext(): Promise<SecureContext> {
    this.#secureContext ??= this.certificate().then((certificate) => {
      this.#secureContextMade = createSecureContext({
        key: certificate.keyPem,
        cert: certificate.certPem,
        minVersion: 'TLSv1.3',
        maxVersion: 'TLSv1.3',
        // No stateless session tickets: netmachine never resumes a TLS session (every connect is a
        // full handshake whose keys are pinned). A TLS 1.3 server still sends two tickets after each
        // handshake, but each is then a 32-byte session id instead of the session encrypted (the
        // caller's certificate in it, about 500 bytes): about 0.25 ms less on the listener between
        // the caller's Finished and reading its first bytes. Node's contexts keep no internal session
        // cache (SSL_SESS_CACHE_NO_INTERNAL) and we listen for no 'newSession', so nothing is stored.
        secureOptions: constants.SSL_OP_NO_TICKET,
      });
      return this.#secureContextMade;
    });
    return this.#secureContext;
  }
}
