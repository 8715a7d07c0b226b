import { connect as netConnect, type Socket } from 'node:net';
import { type SecureContext, type TLSSocket, connect as tlsConnect } from 'node:tls';
import {
  AbortedError,
  ConnectionClosedError,
  HandshakeError,
  type Logger,
  type NodeId,
  PeerDeniedError,
} from '@netmachine/core';
import { formatAddress, parseAddress } from '@netmachine/transport';
import { ACCEPTED, CONFIRMED, REFUSED } from './acceptance.js';
import { verifyExpectedPeer } from './peer-certificate.js';

export interface DialParams {
  readonly address: string;
  readonly expected: NodeId;
  /**
   * Sent right after the confirmation byte, without waiting for the listener's acceptance. A function
   * is called once the listener's key is pinned, just before the write.
   */
  readonly firstBytes?: Uint8Array | (() => Uint8Array) | undefined;
  readonly secureContext: SecureContext;
  readonly handshakeTimeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  readonly logger: Logger;
}

/** A socket whose peer proved `expected`'s key and accepted us, with any bytes that came with the acceptance. */
export interface DialedSocket {
  readonly socket: TLSSocket;
  /** The TCP socket under `socket` (kept to reset it on abort). */
  readonly raw: Socket;
  readonly remoteAddress: string;
  readonly initialData: Buffer;
}

/**
 * Connects, runs the TLS 1.3 handshake, pins the server's key to `expected`, confirms it (with
 * `firstBytes` right behind, so the listener can answer them together with its acceptance: one round
 * trip less for the caller's first exchange), and waits for the listener's acceptance byte. Every failure destroys the socket and rejects with a typed error; the
 * whole sequence is bounded by `handshakeTimeoutMs`.
 */
export function dialSocket(params: DialParams): Promise<DialedSocket> {
  const { address, expected, signal } = params;
  const { host, port } = parseAddress(address, 'tls');
  if (port === 0) return Promise.reject(new HandshakeError(`cannot dial port 0 (${address})`));
  if (signal?.aborted) return Promise.reject(new AbortedError(signal.reason));

  return new Promise<DialedSocket>((resolve, reject) => {
    // For an IP address, net.connect sends the SYN on the next tick; the TLS socket is made on the
    // tick after it (still before the event loop reports the TCP connect, so the ClientHello leaves
    // as soon as TCP is up). The listener then accepts while this side builds its TLS state, instead
    // of after. The TCP socket is kept to reset it on abort; TLS wraps its handle (the fast path).
    const raw = netConnect({ host, port, noDelay: true });
    let socket: TLSSocket | undefined;
    let settled = false;
    const openTls = (): void => {
      if (settled || raw.destroyed) return; // a failed connect reports through raw's error
      const tlsSocket: TLSSocket = tlsConnect({
        socket: raw,
        secureContext: params.secureContext,
        minVersion: 'TLSv1.3',
        maxVersion: 'TLSv1.3',
        // No CA: the key is pinned below, once the handshake has proved the peer holds it.
        rejectUnauthorized: false,
      });
      socket = tlsSocket;
      tlsSocket.once('secureConnect', onSecure);
      tlsSocket.on('error', onError);
      tlsSocket.once('close', onClose);
    };

    const cleanup = (): void => {
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      raw.off('error', onError);
      socket?.off('secureConnect', onSecure);
      socket?.off('data', onAcceptance);
      socket?.off('error', onError);
      socket?.off('close', onClose);
    };
    const fail = (error: Error): void => {
      if (settled) return;
      cleanup();
      // Late errors of a destroyed socket must not become uncaught exceptions.
      raw.on('error', () => {});
      socket?.on('error', () => {});
      socket?.destroy();
      raw.destroy();
      reject(error);
    };
    const onAbort = (): void => fail(new AbortedError(signal?.reason));
    const onError = (error: Error): void =>
      fail(new ConnectionClosedError(`cannot connect to ${address}: ${error.message}`, { cause: error }));
    const onClose = (): void =>
      fail(new ConnectionClosedError(`${address} closed the connection during the handshake`));
    const onSecure = (): void => {
      const secured = socket as TLSSocket;
      try {
        verifyExpectedPeer(secured.getPeerX509Certificate(), expected);
      } catch (error) {
        fail(error as Error);
        return;
      }
      let first: Uint8Array | undefined;
      try {
        first = typeof params.firstBytes === 'function' ? params.firstBytes() : params.firstBytes;
      } catch (error) {
        fail(error as Error);
        return;
      }
      // One write, so the confirmation and the first bytes leave in one TLS record.
      const length = first === undefined ? 0 : first.length;
      const confirmation = Buffer.allocUnsafe(1 + length);
      confirmation[0] = CONFIRMED;
      if (first !== undefined && length > 0) confirmation.set(first, 1);
      secured.write(confirmation);
      secured.on('data', onAcceptance);
    };
    const onAcceptance = (chunk: Buffer): void => {
      if (chunk.length === 0) return;
      const verdict = chunk[0];
      if (verdict === ACCEPTED) {
        cleanup();
        const remote = formatAddress('tls', raw.remoteAddress ?? host, raw.remotePort ?? port);
        resolve({ socket: socket as TLSSocket, raw, remoteAddress: remote, initialData: chunk.subarray(1) });
      } else if (verdict === REFUSED) {
        fail(new PeerDeniedError(address, 'the listener refused our key'));
      } else {
        fail(new HandshakeError(`${address} sent an unexpected byte instead of its acceptance`));
      }
    };

    const timer = setTimeout(
      () => fail(new HandshakeError(`no handshake with ${address} within ${params.handshakeTimeoutMs} ms`)),
      params.handshakeTimeoutMs,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    raw.on('error', onError);
    process.nextTick(openTls);
  });
}
