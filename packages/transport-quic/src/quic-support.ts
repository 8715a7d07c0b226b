import { createHmac, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { QUICClient, QUICConfig, QUICServer } from '@matrixai/quic';
import type { Logger } from '@netmachine/core';

/** The logger type @matrixai/quic expects (a class from @matrixai/logger, of which it uses a few methods). */
export type QuicLibraryLogger = NonNullable<ConstructorParameters<typeof QUICServer>[0]['logger']>;

/**
 * Bridges @matrixai/quic's logging to ours. The library logs every stream and connection event at INFO,
 * and formatting those lines costs CPU on the hot path, so INFO and DEBUG are dropped here; only
 * warnings and errors reach the node's logger.
 */
export function quicLibraryLogger(logger: Logger): QuicLibraryLogger {
  const noop = (): void => {};
  const bridge = {
    debug: noop,
    info: noop,
    warn: (message?: unknown) => logger.warn({ library: '@matrixai/quic' }, String(message)),
    error: (message?: unknown) => logger.error({ library: '@matrixai/quic' }, String(message)),
    getChild: () => bridge,
  };
  return bridge as unknown as QuicLibraryLogger;
}

/** Server crypto: an HMAC key for retry tokens and connection ids, which never leave this process. */
export function serverCrypto(): ConstructorParameters<typeof QUICServer>[0]['crypto'] {
  const key = randomBytes(32);
  const hmac = (data: ArrayBuffer): Buffer => createHmac('sha256', key).update(Buffer.from(data)).digest();
  return {
    key: toArrayBuffer(key),
    ops: {
      sign: async (_key, data) => toArrayBuffer(hmac(data)),
      verify: async (_key, data, signature) => {
        const expected = hmac(data);
        const actual = Buffer.from(signature);
        return actual.length === expected.length && timingSafeEqual(actual, expected);
      },
    },
  };
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const copy = new ArrayBuffer(bytes.length);
  new Uint8Array(copy).set(bytes);
  return copy;
}

export const clientCrypto: Parameters<typeof QUICClient.createQUICClient>[0]['crypto'] = {
  ops: {
    randomBytes: async (data) => {
      randomFillSync(new Uint8Array(data));
    },
  },
};

/** Knobs of the QUIC transport that end up in @matrixai/quic's config. */
export interface QuicTuning {
  /** UDP payload we send on non-loopback paths (default 1350, safe below a 1500-byte MTU). */
  readonly maxUdpPayloadSize: number;
  /** UDP payload on loopback, where the MTU is 64 KiB (default 32768). */
  readonly loopbackUdpPayloadSize: number;
  /** Kernel send and receive buffers of the UDP socket (default 4 MiB; the kernel may cap it). */
  readonly udpBufferBytes: number;
  /** Per-stream receive window (default 4 MiB). */
  readonly streamWindowBytes: number;
  /** A connection with no traffic for this long is closed (default 15 s); keep-alives run well below it. */
  readonly idleTimeoutMs: number;
  readonly keepAliveIntervalMs: number;
}

/** Only netmachine peers speak this ALPN, so another QUIC service is refused during the handshake. */
export const ALPN = 'netmachine/1';

export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * The config shared by both ends. The JavaScript layer of @matrixai/quic costs per packet and per
 * read, so bigger packets (where the path allows them) and bigger read chunks move more bytes per
 * unit of CPU. Only one bidirectional stream is ever used, opened by the listener.
 */
export function quicConfig(tuning: QuicTuning, host: string, side: 'client' | 'server'): Partial<QUICConfig> {
  return {
    verifyPeer: true,
    applicationProtos: [ALPN],
    maxSendUdpPayloadSize: isLoopback(host) ? tuning.loopbackUdpPayloadSize : tuning.maxUdpPayloadSize,
    maxRecvUdpPayloadSize: 65527,
    readableChunkSize: 65536,
    initialMaxStreamDataBidiLocal: tuning.streamWindowBytes,
    initialMaxStreamDataBidiRemote: tuning.streamWindowBytes,
    initialMaxData: tuning.streamWindowBytes * 2,
    // Remote-initiated stream limits: the client accepts the listener's one stream, the server none.
    initialMaxStreamsBidi: side === 'client' ? 1 : 0,
    initialMaxStreamsUni: 0,
    maxIdleTimeout: tuning.idleTimeoutMs,
    keepAliveIntervalTime: tuning.keepAliveIntervalMs,
    enableEarlyData: false,
  };
}

/**
 * Enlarges the kernel buffers of the UDP socket under a QUIC server or client. The default receive
 * buffer (about 200 KiB) overflows while a busy process is not reading, and every datagram lost
 * there costs a retransmission and a smaller congestion window. @matrixai/quic has no option for
 * this, so its socket is reached directly; if that ever fails, the defaults stay (best effort).
 */
export function enlargeUdpBuffers(owner: QUICServer | QUICClient, bytes: number, logger: Logger): void {
  const udp = (owner as unknown as { socket?: { socket?: UdpBufferSizes } }).socket?.socket;
  try {
    udp?.setRecvBufferSize(bytes);
    udp?.setSendBufferSize(bytes);
  } catch (error) {
    logger.debug({ err: error }, 'cannot enlarge the UDP socket buffers');
  }
}

interface UdpBufferSizes {
  setRecvBufferSize(size: number): void;
  setSendBufferSize(size: number): void;
}
