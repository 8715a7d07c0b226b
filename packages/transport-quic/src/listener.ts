import { type QUICConnection, QUICServer, events as quicEvents } from '@matrixai/quic';
import { AbortedError, type Listener, type Logger, type NodeId } from '@netmachine/core';
import { formatAddress, type HostPort, unmapIPv4 } from '@netmachine/transport';
import { CRYPTO_ACCESS_DENIED, CRYPTO_BAD_CERTIFICATE } from './acceptance.js';
import { nodeIdFromChain } from './peer-certificate.js';
import {
  enlargeUdpBuffers,
  type QuicLibraryLogger,
  type QuicTuning,
  quicConfig,
  serverCrypto,
} from './quic-support.js';
import type { QuicTransportEvent, QuicTransportStats } from './stats.js';

export interface ListenerParams {
  readonly endpoint: HostPort;
  readonly certificate: { readonly keyPem: string; readonly certPem: string };
  readonly tuning: QuicTuning;
  readonly handshakeTimeoutMs: number;
  readonly acceptPeer: ((node: NodeId) => boolean) | undefined;
  /** Receives each accepted QUIC connection with the caller's node; returns when it stops being used. */
  readonly onAccepted: (connection: QUICConnection, node: NodeId, remoteAddress: string) => Promise<void>;
  readonly stats: QuicTransportStats;
  readonly emit: (event: QuicTransportEvent) => void;
  readonly logger: Logger;
  readonly libraryLogger: QuicLibraryLogger;
  readonly signal?: AbortSignal | undefined;
}

/**
 * A QUIC server. Callers are checked inside the TLS handshake (verifyCallback): an unusable certificate
 * or a key `acceptPeer` refuses ends the handshake with a TLS alert, so a refused caller never gets a
 * stream. All accepted connections share the server's UDP socket, so closing the listener refuses new
 * callers at once but stops the socket only when its last connection has closed.
 */
export class QuicListener implements Listener {
  readonly #server: QUICServer;
  readonly #params: ListenerParams;
  readonly #onClosed: (listener: QuicListener) => void;
  #addresses: readonly string[] = [];
  #closed = false;
  #live = 0;
  #stopped: Promise<void> | undefined;

  private constructor(params: ListenerParams, onClosed: (listener: QuicListener) => void) {
    this.#params = params;
    this.#onClosed = onClosed;
    this.#server = new QUICServer({
      crypto: serverCrypto(),
      config: {
        ...quicConfig(params.tuning, params.endpoint.host, 'server'),
        key: params.certificate.keyPem,
        cert: params.certificate.certPem,
        verifyCallback: async (chain) => this.#verifyCaller(chain),
      },
      // Bounds how long an unfinished handshake may hold server state (slowloris).
      minIdleTimeout: params.handshakeTimeoutMs,
      logger: params.libraryLogger,
    });
    this.#server.addEventListener(quicEvents.EventQUICServerConnection.name, this.#onConnection);
  }

  static async open(
    params: ListenerParams,
    onClosed: (listener: QuicListener) => void,
  ): Promise<QuicListener> {
    if (params.signal?.aborted) throw new AbortedError(params.signal.reason);
    const listener = new QuicListener(params, onClosed);
    const { host, port } = params.endpoint;
    await listener.#server.start({ host, port });
    enlargeUdpBuffers(listener.#server, params.tuning.udpBufferBytes, params.logger);
    listener.#addresses = [formatAddress('quic', host, listener.#server.port)];
    params.signal?.addEventListener('abort', listener.#onAbort, { once: true });
    return listener;
  }

  get addresses(): readonly string[] {
    return this.#addresses;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#params.signal?.removeEventListener('abort', this.#onAbort);
    this.#onClosed(this);
    if (this.#live === 0) await this.#stop();
  }

  /** Stops the UDP socket now, with whatever connections still use it. */
  async destroy(): Promise<void> {
    this.#closed = true;
    await this.#stop();
  }

  #stop(): Promise<void> {
    this.#stopped ??= this.#server
      .stop({ isApp: true, errorCode: 0, force: true })
      .catch((error: unknown) => {
        this.#params.logger.warn({ err: error }, 'QUIC server stop failed');
      });
    return this.#stopped;
  }

  readonly #onAbort = (): void => {
    void this.close();
  };

  #verifyCaller(chain: Uint8Array[]): number | undefined {
    const { stats, emit, acceptPeer, logger } = this.#params;
    let node: NodeId;
    try {
      node = nodeIdFromChain(chain);
    } catch (error) {
      stats.handshakeFailures++;
      emit({ type: 'handshake:failed', error: error as Error });
      return CRYPTO_BAD_CERTIFICATE;
    }
    let accepted: boolean;
    try {
      accepted = !this.#closed && (acceptPeer === undefined || acceptPeer(node));
    } catch (error) {
      logger.warn({ err: error, peer: node }, 'acceptPeer threw; refusing the caller');
      accepted = false;
    }
    if (!accepted) {
      stats.peersRefused++;
      emit({ type: 'peer:refused', node });
      return CRYPTO_ACCESS_DENIED;
    }
    return undefined;
  }

  readonly #onConnection = (event: Event): void => {
    const connection = (event as unknown as { detail: QUICConnection }).detail;
    const remoteAddress = formatAddress('quic', unmapIPv4(connection.remoteHost), connection.remotePort);
    let node: NodeId;
    try {
      node = nodeIdFromChain(connection.getRemoteCertsChain());
    } catch (error) {
      // verifyCallback has already checked this chain; this is only a guard.
      this.#params.logger.warn({ err: error }, 'accepted QUIC connection without a usable certificate');
      void connection.stop({ isApp: true, errorCode: 1, force: true }).catch(() => {});
      return;
    }
    this.#live++;
    void this.#params
      .onAccepted(connection, node, remoteAddress)
      .catch(() => {})
      .then(() => {
        this.#live--;
        if (this.#closed && this.#live === 0) void this.#stop();
      });
  };
}
