import type { QUICConnection, QUICStream } from '@matrixai/quic';
import type {
  EventSource,
  ListenOptions,
  NodeId,
  Transport,
  TransportContext,
  TransportFactory,
} from '@netmachine/core';
import { type HostPort, SocketTransport, withDefaults } from '@netmachine/transport';
import { ACCEPTED, CONFIRMED } from './acceptance.js';
import { dialStream } from './dial.js';
import { QuicListener } from './listener.js';
import { CLOSE_CODE, QuicConnection, type QuicConnectionInit } from './quic-connection.js';
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

/** The QUIC transport as returned by `quic()`: a core `Transport` with events and counters. */
export interface QuicTransport extends Transport {
  /** Refused, timed-out and failed handshakes and failed dials, as they happen. */
  readonly events: EventSource<QuicTransportEvent>;
  /** A snapshot of the counters, for metrics. */
  counters(): QuicTransportStats;
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

class QuicTransportImpl
  extends SocketTransport<QuicTransportStats, QuicTransportEvent, QuicConnection, QuicListener>
  implements QuicTransport
{
  readonly protocol = 'quic';
  readonly #libraryLogger: QuicLibraryLogger;
  readonly #settings: Required<QuicTransportOptions>;

  constructor(context: TransportContext, options: QuicTransportOptions) {
    super(context, 'quic', emptyStats());
    this.#libraryLogger = quicLibraryLogger(this.logger);
    this.#settings = withDefaults<Required<QuicTransportOptions>>(DEFAULTS, options);
  }

  protected async dialConnection(
    address: string,
    expected: NodeId,
    signal: AbortSignal,
  ): Promise<QuicConnection> {
    const dialed = await dialStream({
      address,
      expected,
      certificate: await this.certificate(),
      tuning: this.#settings,
      handshakeTimeoutMs: this.#settings.handshakeTimeoutMs,
      signal,
      libraryLogger: this.#libraryLogger,
    });
    enlargeUdpBuffers(dialed.client, this.#settings.udpBufferBytes, this.logger);
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
  }

  protected async openListener(
    endpoint: HostPort,
    accepted: (connection: QuicConnection) => void,
    options: ListenOptions,
    onClosed: (listener: QuicListener) => void,
  ): Promise<QuicListener> {
    return QuicListener.open(
      {
        endpoint,
        certificate: await this.certificate(),
        tuning: this.#settings,
        handshakeTimeoutMs: this.#settings.handshakeTimeoutMs,
        acceptPeer: options.acceptPeer,
        onAccepted: (quicConnection, node, remoteAddress) =>
          this.#accept(quicConnection, node, remoteAddress, accepted),
        stats: this.stats,
        emit: (event) => this.emit(event),
        logger: this.logger,
        libraryLogger: this.#libraryLogger,
        signal: options.signal,
      },
      onClosed,
    );
  }

  /** The listeners' UDP sockets are stopped once every connection on them has closed. */
  protected override async afterClose(listeners: readonly QuicListener[]): Promise<void> {
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
    accepted: (connection: QuicConnection) => void,
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
      this.emit({ type: 'handshake:failed', error: error as Error });
      this.logger.debug({ err: error, peer: node }, 'QUIC caller left before confirming');
      await stopNow();
      return;
    }
    if (this.closed) {
      await stopNow();
      return;
    }
    this.stats.inboundAccepted++;
    accepted(
      this.#adopt({
        connection: quicConnection,
        stream,
        reader,
        writer,
        stop: (errorCode) => quicConnection.stop({ isApp: true, errorCode, force: true }),
        remoteNode: node,
        remoteAddress,
        direction: 'inbound',
        initialData,
      }),
    );
    await quicConnection.closedP;
  }

  #adopt(
    parts: Pick<
      QuicConnectionInit,
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
      logger: this.logger,
      onStreamWrite: (bytes) => {
        this.stats.streamWrites++;
        this.stats.streamWriteBytes += bytes;
      },
      onClosed: (closed) => this.forget(closed),
    });
    return this.track(connection);
  }
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
