import type { QUICConnection, QUICStream } from '@matrixai/quic';
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
import { type NodeCertificate, parseAddress, selfSignedCertificate } from '@netmachine/transport';
import { ACCEPTED, CONFIRMED } from './acceptance.js';
import { dialStream } from './dial.js';
import { QuicListener } from './listener.js';
import { CLOSE_CODE, QuicConnection } from './quic-connection.js';
import {
  enlargeUdpBuffers,
  type QuicLibraryLogger,
  type QuicTuning,
  quicLibraryLogger,
} from './quic-support.js';
import { emptyStats, type QuicTransportEvent, type QuicTransportStats } from './stats.js';

export interface QuicTransportOptions extends Partial<QuicTuning> {
  /** `write` returns false when this many bytes are queued (default 1 MiB). */
  highWaterMark?: number;
  /** Queued writes are copied into buffers of this size, each one stream write (default 64 KiB). */
  maxBatchBytes?: number;
  /** QUIC handshake + acceptance must finish within this (default 10 s), both directions. */
  handshakeTimeoutMs?: number;
  /** Bytes held for a connection whose owner has not called `setHandlers` yet (default 1 MiB). */
  maxEarlyBytes?: number;
  /** How long a graceful close waits for the peer (default 5 s). */
  closeTimeoutMs?: number;
  /** Told about refused and failed handshakes as they happen. */
  onEvent?: (event: QuicTransportEvent) => void;
}

const DEFAULTS = {
  highWaterMark: 1024 * 1024,
  maxBatchBytes: 64 * 1024,
  handshakeTimeoutMs: 10_000,
  maxEarlyBytes: 1024 * 1024,
  closeTimeoutMs: 5_000,
  maxUdpPayloadSize: 1350,
  loopbackUdpPayloadSize: 32768,
  udpBufferBytes: 4 * 1024 * 1024,
  streamWindowBytes: 4 * 1024 * 1024,
  idleTimeoutMs: 15_000,
  keepAliveIntervalMs: 2_000,
} as const;

/** The QUIC transport as returned by `quic()`: a core `Transport` with counters. */
export interface QuicTransport extends Transport {
  readonly stats: Readonly<QuicTransportStats>;
}

/**
 * QUIC (@matrixai/quic) with mutual authentication by node keys: `quic://host:port` addresses.
 * `quic(options)` is handed to the node, which calls the result with its key and logger.
 */
export function quic(options: QuicTransportOptions = {}): (context: TransportContext) => QuicTransport {
  return (context) => new QuicTransportImpl(context, options);
}

// Type-level check that quic() fits where a TransportFactory is expected.
const _factoryFits: (options?: QuicTransportOptions) => TransportFactory = quic;
void _factoryFits;

class QuicTransportImpl implements QuicTransport {
  readonly protocol = 'quic';
  readonly stats = emptyStats();
  readonly #context: TransportContext;
  readonly #logger: Logger;
  readonly #libraryLogger: QuicLibraryLogger;
  readonly #settings: Required<Omit<QuicTransportOptions, 'onEvent'>>;
  readonly #onEvent: ((event: QuicTransportEvent) => void) | undefined;
  readonly #connections = new Set<QuicConnection>();
  readonly #listeners = new Set<QuicListener>();
  readonly #dials = new Set<AbortController>();
  #closed = false;

  constructor(context: TransportContext, options: QuicTransportOptions) {
    this.#context = context;
    this.#logger = context.logger.child({ transport: 'quic' });
    this.#libraryLogger = quicLibraryLogger(this.#logger);
    const { onEvent, ...rest } = options;
    this.#onEvent = onEvent;
    this.#settings = { ...DEFAULTS, ...stripUndefined(rest) };
  }

  async dial(address: string, expected: NodeId, options: DialOptions = {}): Promise<Connection> {
    this.#assertOpen();
    const controller = new AbortController();
    const signal =
      options.signal === undefined ? controller.signal : AbortSignal.any([options.signal, controller.signal]);
    this.#dials.add(controller);
    try {
      const dialed = await dialStream({
        address,
        expected,
        certificate: await this.#certificate(),
        tuning: this.#settings,
        handshakeTimeoutMs: this.#settings.handshakeTimeoutMs,
        signal,
        libraryLogger: this.#libraryLogger,
      });
      enlargeUdpBuffers(dialed.client, this.#settings.udpBufferBytes, this.#logger);
      this.stats.outboundEstablished++;
      const client = dialed.client;
      return this.#adopt({
        connection: dialed.connection,
        stream: dialed.stream,
        reader: dialed.reader,
        stop: (errorCode) => client.destroy({ isApp: true, errorCode, force: true }),
        remoteNode: expected,
        remoteAddress: dialed.remoteAddress,
        direction: 'outbound',
        initialData: dialed.initialData,
        prelude: Buffer.of(CONFIRMED),
      });
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
    const endpoint = parseAddress(address, 'quic');
    const listener = await QuicListener.open(
      {
        endpoint,
        certificate: await this.#certificate(),
        tuning: this.#settings,
        handshakeTimeoutMs: this.#settings.handshakeTimeoutMs,
        acceptPeer: options.acceptPeer,
        onAccepted: (quicConnection, node, remoteAddress) =>
          this.#accept(quicConnection, node, remoteAddress, onConnection),
        stats: this.stats,
        emit: (event) => this.#emit(event),
        logger: this.#logger,
        libraryLogger: this.#libraryLogger,
        signal: options.signal,
      },
      (closed) => this.#listeners.delete(closed),
    );
    this.#listeners.add(listener);
    this.#logger.debug({ addresses: listener.addresses }, 'QUIC listener open');
    return listener;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const dial of this.#dials) dial.abort();
    const listeners = [...this.#listeners];
    await Promise.all(listeners.map((listener) => listener.close()));
    await Promise.all([...this.#connections].map((connection) => connection.close()));
    await Promise.all(listeners.map((listener) => listener.destroy()));
  }

  /**
   * Opens the connection's one stream, says ACCEPTED on it, waits for the caller's CONFIRMED and only
   * then hands the connection out. Resolves once the QUIC connection is closed.
   */
  async #accept(
    quicConnection: QUICConnection,
    node: NodeId,
    remoteAddress: string,
    onConnection: (connection: Connection) => void,
  ): Promise<void> {
    const stopNow = (): Promise<void> =>
      quicConnection.stop({ isApp: true, errorCode: CLOSE_CODE.aborted, force: true }).catch(() => {});
    let stream: QUICStream;
    let writer: WritableStreamDefaultWriter<Uint8Array>;
    let reader: ReadableStreamDefaultReader<Uint8Array>;
    let initialData: Buffer;
    try {
      stream = quicConnection.newStream('bidi');
      writer = stream.writable.getWriter();
      writer.closed.catch(() => {});
      reader = stream.readable.getReader();
      await writer.write(Buffer.of(ACCEPTED));
      const first = await readWithin(reader, this.#settings.handshakeTimeoutMs);
      if (first === undefined || first[0] !== CONFIRMED)
        throw new Error('the caller did not confirm our key');
      initialData = Buffer.from(first.buffer, first.byteOffset + 1, first.byteLength - 1);
    } catch (error) {
      this.stats.handshakeFailures++;
      this.#emit({ type: 'handshake-failed', error: error as Error });
      this.#logger.debug({ err: error, peer: node }, 'QUIC caller left before confirming');
      await stopNow();
      return;
    }
    if (this.#closed) {
      await stopNow();
      return;
    }
    this.stats.inboundAccepted++;
    const connection = this.#adopt({
      connection: quicConnection,
      stream,
      reader,
      writer,
      stop: (errorCode) => quicConnection.stop({ isApp: true, errorCode, force: true }),
      remoteNode: node,
      remoteAddress,
      direction: 'inbound',
      initialData,
    });
    try {
      onConnection(connection);
    } catch (error) {
      this.#logger.error({ err: error, peer: node }, 'onConnection threw; aborting the connection');
      connection.abort(error as Error);
    }
    await quicConnection.closedP;
  }

  #adopt(
    parts: Pick<
      ConstructorParameters<typeof QuicConnection>[0],
      | 'connection'
      | 'stream'
      | 'reader'
      | 'writer'
      | 'prelude'
      | 'stop'
      | 'remoteNode'
      | 'remoteAddress'
      | 'direction'
      | 'initialData'
    >,
  ): QuicConnection {
    const connection = new QuicConnection({
      ...parts,
      highWaterMark: this.#settings.highWaterMark,
      maxBatchBytes: this.#settings.maxBatchBytes,
      maxEarlyBytes: this.#settings.maxEarlyBytes,
      closeTimeoutMs: this.#settings.closeTimeoutMs,
      logger: this.#logger,
      onStreamWrite: (bytes) => {
        this.stats.streamWrites++;
        this.stats.streamWriteBytes += bytes;
      },
      onClosed: (closed) => {
        if (this.#connections.delete(closed)) this.stats.openConnections--;
      },
    });
    this.#connections.add(connection);
    this.stats.openConnections++;
    if (this.#closed) void connection.close();
    return connection;
  }

  #certificate(): Promise<NodeCertificate> {
    return selfSignedCertificate(this.#context.keyPair);
  }

  #emit(event: QuicTransportEvent): void {
    if (this.#onEvent === undefined) return;
    try {
      this.#onEvent(event);
    } catch (error) {
      this.#logger.warn({ err: error }, 'onEvent threw');
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new NotStartedError('QUIC transport (closed)');
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The first chunk of a stream, or undefined if it ends, fails or stays silent for `timeoutMs`. */
async function readWithin(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  timeoutMs: number,
): Promise<Uint8Array | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
    const read = reader.read().then(
      ({ value }) => (value !== undefined && value.length > 0 ? value : undefined),
      () => undefined,
    );
    return await Promise.race([read, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
