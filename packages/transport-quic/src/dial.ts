import { isIP } from 'node:net';
import {
  QUICClient,
  type QUICConnection,
  type QUICStream,
  errors as quicErrors,
  events as quicEvents,
} from '@matrixai/quic';
import {
  AbortedError,
  ConnectionClosedError,
  HandshakeError,
  type NodeId,
  PeerDeniedError,
} from '@netmachine/core';
import { expectPeerCertificate, formatAddress, parseAddress, unmapIPv4 } from '@netmachine/transport';
import { ACCEPTED, CRYPTO_ACCESS_DENIED, CRYPTO_BAD_CERTIFICATE } from './acceptance.js';
import { clientCrypto, type QuicLibraryLogger, type QuicTuning, quicConfig } from './quic-support.js';

export interface DialParams {
  readonly address: string;
  readonly expected: NodeId;
  readonly certificate: { readonly keyPem: string; readonly certPem: string };
  readonly tuning: QuicTuning;
  readonly handshakeTimeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  readonly libraryLogger: QuicLibraryLogger;
}

export interface DialedStream {
  readonly client: QUICClient;
  readonly connection: QUICConnection;
  readonly stream: QUICStream;
  readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly remoteAddress: string;
  /** Bytes that came after the acceptance byte. */
  readonly initialData: Buffer;
}

/**
 * Runs the QUIC handshake pinning the listener's key to `expected`, then waits for the listener to
 * open the connection's stream and send its acceptance byte: only then has the listener accepted our
 * key. The caller answers with CONFIRMED as the first byte it writes. Any failure destroys the client and rejects with a typed error, within `handshakeTimeoutMs`.
 */
export async function dialStream(params: DialParams): Promise<DialedStream> {
  const { address, expected, signal } = params;
  const { host, port } = parseAddress(address, 'quic');
  if (port === 0) throw new HandshakeError(`cannot dial port 0 (${address})`);
  if (signal?.aborted) throw new AbortedError(signal.reason);
  const deadline = Date.now() + params.handshakeTimeoutMs;
  let pinError: Error | undefined;

  let client: QUICClient;
  try {
    client = await QUICClient.createQUICClient(
      {
        host,
        port,
        // An IPv4 socket for an IPv4 peer keeps addresses unmapped; '::' (dual-stack) otherwise.
        localHost: isIP(host) === 4 ? '0.0.0.0' : '::',
        crypto: clientCrypto,
        config: {
          ...quicConfig(params.tuning, host, 'client'),
          key: params.certificate.keyPem,
          cert: params.certificate.certPem,
          verifyCallback: async (chain) => {
            try {
              expectPeerCertificate(chain[0], expected);
            } catch (error) {
              pinError = error as Error;
            }
            return pinError === undefined ? undefined : CRYPTO_BAD_CERTIFICATE;
          },
        },
        logger: params.libraryLogger,
      },
      { timer: params.handshakeTimeoutMs, ...(signal !== undefined ? { signal } : {}) },
    );
  } catch (error) {
    throw pinError ?? translateError(error, address, params.handshakeTimeoutMs, signal);
  }

  try {
    const accepted = await awaitAcceptance(client, address, deadline - Date.now(), signal);
    const remoteAddress = formatAddress('quic', unmapIPv4(client.host), client.port);
    return { client, connection: client.connection, remoteAddress, ...accepted };
  } catch (error) {
    await client.destroy({ isApp: true, errorCode: 1, force: true }).catch(() => {});
    throw error;
  }
}

function awaitAcceptance(
  client: QUICClient,
  address: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<{ stream: QUICStream; reader: ReadableStreamDefaultReader<Uint8Array>; initialData: Buffer }> {
  const connection = client.connection;
  return new Promise((resolve, reject) => {
    let settled = false;
    let connectionError: unknown;
    const settle = (error: Error | undefined, value?: Parameters<typeof resolve>[0]): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      connection.removeEventListener(quicEvents.EventQUICConnectionStream.name, onStream);
      connection.removeEventListener(quicEvents.EventQUICConnectionError.name, onError);
      if (error !== undefined) reject(error);
      else resolve(value!);
    };
    const onAbort = (): void => settle(new AbortedError(signal?.reason));
    const onError = (event: Event): void => {
      connectionError ??= (event as unknown as { detail?: unknown }).detail;
    };
    const onStream = (event: Event): void => {
      const stream = (event as unknown as { detail: QUICStream }).detail;
      connection.removeEventListener(quicEvents.EventQUICConnectionStream.name, onStream);
      const reader = stream.readable.getReader();
      reader.read().then(
        ({ value, done }) => {
          if (done || value === undefined || value.length === 0) {
            settle(new ConnectionClosedError(`${address} closed the stream before accepting us`));
          } else if (value[0] !== ACCEPTED) {
            settle(new HandshakeError(`${address} sent an unexpected byte instead of its acceptance`));
          } else {
            const initialData = Buffer.from(value.buffer, value.byteOffset + 1, value.byteLength - 1);
            settle(undefined, { stream, reader, initialData });
          }
        },
        (error: unknown) => settle(translateError(connectionError ?? error, address, timeoutMs, signal)),
      );
    };
    const timer = setTimeout(
      () => settle(new HandshakeError(`${address} did not accept us within the handshake timeout`)),
      Math.max(0, timeoutMs),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    connection.addEventListener(quicEvents.EventQUICConnectionStream.name, onStream);
    connection.addEventListener(quicEvents.EventQUICConnectionError.name, onError);
    void connection.closedP.then(() =>
      settle(translateError(connectionError ?? new Error('closed'), address, timeoutMs, signal)),
    );
  });
}

/** Maps @matrixai/quic failures onto core's typed errors. */
export function translateError(
  error: unknown,
  address: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Error {
  if (signal?.aborted) return new AbortedError(signal.reason);
  const code = peerCryptoCode(error);
  if (code === CRYPTO_ACCESS_DENIED) {
    return new PeerDeniedError(address, 'the listener refused our key');
  }
  if (code !== undefined) {
    return new HandshakeError(`${address} rejected the TLS handshake (code ${code})`, { cause: error });
  }
  if (
    error instanceof quicErrors.ErrorQUICClientCreateTimeout ||
    error instanceof quicErrors.ErrorQUICConnectionStartTimeout ||
    error instanceof quicErrors.ErrorQUICConnectionIdleTimeout
  ) {
    return new HandshakeError(`no QUIC handshake with ${address} within ${timeoutMs} ms`, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ConnectionClosedError(`cannot connect to ${address}: ${message}`, { cause: error });
}

/** The TLS alert the peer closed the connection with, if it did so. */
function peerCryptoCode(error: unknown): number | undefined {
  for (let e = error; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    if (
      e instanceof quicErrors.ErrorQUICConnectionPeerTLS ||
      e instanceof quicErrors.ErrorQUICConnectionPeer
    ) {
      const code = (e as { data?: { errorCode?: number } }).data?.errorCode;
      if (typeof code === 'number' && code >= 0x100 && code <= 0x1ff) return code;
    }
  }
  return undefined;
}
