import { createServer, type Server, type Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import { AbortedError, type Listener, type Logger, type NodeId } from '@netmachine/core';
import { ACCEPTED, REFUSED } from './acceptance.js';
import { formatAddress, type HostPort } from './address.js';
import { peerNodeId } from './peer-certificate.js';
import type { TlsTransportEvent, TlsTransportStats } from './stats.js';

export interface ListenerParams {
  readonly endpoint: HostPort;
  readonly secureContext: SecureContext;
  readonly handshakeTimeoutMs: number;
  readonly maxPendingHandshakes: number;
  readonly closeTimeoutMs: number;
  readonly acceptPeer: ((node: NodeId) => boolean) | undefined;
  /** Receives each verified, accepted socket. */
  readonly onSecureSocket: (socket: TLSSocket, node: NodeId, remoteAddress: string) => void;
  readonly stats: TlsTransportStats;
  readonly emit: (event: TlsTransportEvent) => void;
  readonly logger: Logger;
  readonly signal?: AbortSignal | undefined;
}

/**
 * A TCP server that runs the TLS 1.3 handshake itself, so that it can bound what an unauthenticated
 * caller costs: at most `maxPendingHandshakes` at a time (more are dropped at once) and each one
 * destroyed if it has not finished within `handshakeTimeoutMs` (slowloris protection).
 */
export class TlsListener implements Listener {
  readonly #server: Server;
  readonly #params: ListenerParams;
  readonly #pending = new Set<TLSSocket>();
  #addresses: readonly string[] = [];
  #closed = false;
  readonly #onClosed: (listener: TlsListener) => void;

  private constructor(params: ListenerParams, onClosed: (listener: TlsListener) => void) {
    this.#params = params;
    this.#onClosed = onClosed;
    this.#server = createServer({ noDelay: true }, this.#onTcpConnection);
  }

  static async open(params: ListenerParams, onClosed: (listener: TlsListener) => void): Promise<TlsListener> {
    const listener = new TlsListener(params, onClosed);
    await listener.#listen();
    return listener;
  }

  get addresses(): readonly string[] {
    return this.#addresses;
  }

  /** Handshakes in progress (unauthenticated callers). */
  get pendingHandshakes(): number {
    return this.#pending.size;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#params.signal?.removeEventListener('abort', this.#onAbort);
    for (const socket of this.#pending) socket.destroy();
    this.#pending.clear();
    // server.close() stops accepting at once; its callback would wait for every accepted connection,
    // which belong to the transport, not to the listener.
    await new Promise<void>((resolve) => {
      this.#server.close();
      setImmediate(resolve);
    });
    this.#onClosed(this);
  }

  #listen(): Promise<void> {
    const { endpoint, signal } = this.#params;
    if (signal?.aborted) return Promise.reject(new AbortedError(signal.reason));
    return new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      this.#server.once('error', onError);
      this.#server.listen({ host: endpoint.host, port: endpoint.port }, () => {
        this.#server.off('error', onError);
        this.#server.on('error', (error) => this.#params.logger.error({ err: error }, 'TLS listener error'));
        const bound = this.#server.address();
        const port = typeof bound === 'object' && bound !== null ? bound.port : endpoint.port;
        this.#addresses = [formatAddress('tls', endpoint.host, port)];
        signal?.addEventListener('abort', this.#onAbort, { once: true });
        resolve();
      });
    });
  }

  readonly #onAbort = (): void => {
    void this.close();
  };

  readonly #onTcpConnection = (raw: Socket): void => {
    const { stats, emit, maxPendingHandshakes } = this.#params;
    raw.on('error', () => {}); // errors surface on the TLS socket; a reset raw socket must not crash us
    if (this.#closed || this.#pending.size >= maxPendingHandshakes) {
      stats.handshakesRefusedBusy++;
      emit({ type: 'handshake-refused-busy', remoteAddress: raw.remoteAddress ?? '' });
      raw.destroy();
      return;
    }
    const remoteAddress = formatAddress('tls', raw.remoteAddress ?? '', raw.remotePort ?? 0);
    const socket = new TLSSocket(raw, {
      isServer: true,
      secureContext: this.#params.secureContext,
      requestCert: true,
      // No CA: peerNodeId() checks the presented certificate once the handshake has proved its key.
      rejectUnauthorized: false,
    });
    this.#pending.add(socket);
    stats.handshakesStarted++;

    let done = false;
    const finish = (): void => {
      done = true;
      clearTimeout(timer);
      this.#pending.delete(socket);
      socket.off('secure', onSecure);
      socket.off('close', onCloseEarly);
    };
    const timer = setTimeout(() => {
      if (done) return;
      finish();
      stats.handshakeTimeouts++;
      emit({ type: 'handshake-timeout', remoteAddress });
      socket.destroy();
    }, this.#params.handshakeTimeoutMs);
    const onCloseEarly = (): void => {
      if (done) return;
      finish();
      stats.handshakeFailures++;
      emit({ type: 'handshake-failed', remoteAddress, error: lastError });
    };
    let lastError: Error | undefined;
    socket.on('error', (error) => {
      lastError ??= error;
      if (!done) socket.destroy();
    });
    const onSecure = (): void => {
      if (done) return;
      finish();
      this.#onHandshake(socket, remoteAddress);
    };
    socket.once('secure', onSecure);
    socket.once('close', onCloseEarly);
  };

  #onHandshake(socket: TLSSocket, remoteAddress: string): void {
    const { stats, emit, logger, acceptPeer } = this.#params;
    let node: NodeId;
    try {
      node = peerNodeId(socket.getPeerX509Certificate());
    } catch (error) {
      stats.handshakeFailures++;
      emit({ type: 'handshake-failed', remoteAddress, error: error as Error });
      logger.debug({ err: error, remoteAddress }, 'refusing a TLS caller with an unusable certificate');
      socket.destroy();
      return;
    }
    let accepted: boolean;
    try {
      accepted = acceptPeer === undefined || acceptPeer(node);
    } catch (error) {
      logger.warn({ err: error, peer: node }, 'acceptPeer threw; refusing the caller');
      accepted = false;
    }
    if (!accepted || this.#closed) {
      stats.peersRefused++;
      emit({ type: 'peer-refused', node, remoteAddress });
      // Tell the caller why, then close; the timer bounds a caller that never reads.
      socket.end(Buffer.of(REFUSED));
      setTimeout(() => socket.destroy(), this.#params.closeTimeoutMs).unref();
      return;
    }
    socket.write(Buffer.of(ACCEPTED));
    stats.inboundAccepted++;
    this.#params.onSecureSocket(socket, node, remoteAddress);
  }
}
