import { createServer, type Server, type Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import { AbortedError, type Listener, type Logger, type NodeId } from '@netmachine/core';
import { formatAddress, type HostPort } from '@netmachine/transport';
import { ACCEPTED, CONFIRMED, REFUSED } from './acceptance.js';
import { peerNodeId } from './peer-certificate.js';
import type { TlsTransportEvent, TlsTransportStats } from './stats.js';

export interface ListenerParams {
  readonly endpoint: HostPort;
  readonly secureContext: SecureContext;
  readonly handshakeTimeoutMs: number;
  readonly maxPendingHandshakes: number;
  readonly closeTimeoutMs: number;
  readonly acceptPeer: ((node: NodeId) => boolean) | undefined;
  /** Receives each verified, accepted and confirmed socket, with bytes that came after the confirmation. */
  readonly onSecureSocket: (
    socket: TLSSocket,
    raw: Socket,
    node: NodeId,
    remoteAddress: string,
    initialData: Buffer,
  ) => void;
  readonly stats: TlsTransportStats;
  readonly emit: (event: TlsTransportEvent) => void;
  readonly logger: Logger;
  readonly signal?: AbortSignal | undefined;
}

/**
 * A TCP server that runs the TLS 1.3 handshake itself, so that it can bound what an unauthenticated
 * caller costs: at most `maxPendingHandshakes` at a time (more are dropped at once) and each one
 * destroyed if it has not finished within `handshakeTimeoutMs` (slowloris protection). A handshake
 * ends when the caller has confirmed our key (see acceptance.ts).
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
      emit({ type: 'handshake:refused-busy', remoteAddress: raw.remoteAddress ?? '' });
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

    // Until the caller's confirmation byte arrives the socket is a pending handshake: counted against
    // maxPendingHandshakes and bounded by the timer.
    let done = false;
    let node: NodeId | undefined;
    let lastError: Error | undefined;
    const finish = (): void => {
      done = true;
      clearTimeout(timer);
      this.#pending.delete(socket);
      socket.off('secure', onSecure);
      socket.off('data', onConfirmation);
      socket.off('close', onCloseEarly);
    };
    const timer = setTimeout(() => {
      if (done) return;
      finish();
      stats.handshakeTimeouts++;
      emit({ type: 'handshake:timeout', remoteAddress });
      socket.destroy();
    }, this.#params.handshakeTimeoutMs);
    const onCloseEarly = (): void => {
      if (done) return;
      finish();
      stats.handshakeFailures++;
      emit({ type: 'handshake:failed', remoteAddress, error: lastError });
    };
    socket.on('error', (error) => {
      lastError ??= error;
      if (!done) socket.destroy();
    });
    // ACCEPTED is held (corked) to the end of this turn of the event loop: when the caller's
    // confirmation arrived in the same read (with its ConnectRequest and first messages), that is
    // handed out first and ACCEPTED leaves together with the session's ConnectReply (and the answers
    // to those messages), in one write.
    let held = false;
    const release = (): void => {
      if (!held) return;
      held = false;
      socket.uncork();
    };
    const onSecure = (): void => {
      node = this.#admit(socket, remoteAddress);
      if (node === undefined) {
        finish();
        return;
      }
      held = true;
      socket.cork();
      socket.write(Buffer.of(ACCEPTED));
      setImmediate(release);
      socket.on('data', onConfirmation);
    };
    const onConfirmation = (chunk: Buffer): void => {
      if (chunk.length === 0 || node === undefined) return;
      finish();
      if (chunk[0] !== CONFIRMED) {
        stats.handshakeFailures++;
        emit({ type: 'handshake:failed', remoteAddress, error: new Error('no confirmation byte') });
        socket.destroy();
        return;
      }
      stats.inboundAccepted++;
      try {
        this.#params.onSecureSocket(socket, raw, node, remoteAddress, chunk.subarray(1));
      } finally {
        // Released once the microtasks that this read set off have run (the delivery of the messages
        // that came with the confirmation, and the answers their engines wrote) and then the
        // connection's own end-of-tick flush: the caller's first message is delivered before
        // anything is encrypted, and ACCEPTED, the ConnectReply and those answers leave in one write.
        queueMicrotask(() => process.nextTick(release));
      }
    };
    socket.once('secure', onSecure);
    socket.once('close', onCloseEarly);
  };

  /** Checks the caller's certificate and asks acceptPeer; says REFUSED if not. The caller's node if accepted. */
  #admit(socket: TLSSocket, remoteAddress: string): NodeId | undefined {
    const { stats, emit, logger, acceptPeer } = this.#params;
    let node: NodeId;
    try {
      node = peerNodeId(socket.getPeerX509Certificate());
    } catch (error) {
      stats.handshakeFailures++;
      emit({ type: 'handshake:failed', remoteAddress, error: error as Error });
      logger.debug({ err: error, remoteAddress }, 'refusing a TLS caller with an unusable certificate');
      socket.destroy();
      return undefined;
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
      emit({ type: 'peer:refused', node, remoteAddress });
      // Tell the caller why, then close; the timer bounds a caller that never reads.
      socket.end(Buffer.of(REFUSED));
      setTimeout(() => socket.destroy(), this.#params.closeTimeoutMs).unref();
      return undefined;
    }
    return node;
  }
}
