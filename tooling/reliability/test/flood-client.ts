import { type Socket, connect as tcpConnect } from 'node:net';
import { type Connection, KeyPair, type NodeId, noopLogger, unpack } from '@netmachine/core';
import {
  decodeConnectReply,
  encodeConnectRequest,
  encodeFrame,
  FrameDecoder,
  FrameTag,
  PROTOCOL_MAX,
  PROTOCOL_MIN,
} from '@netmachine/transport/wire';
import { tls } from '@netmachine/transport-tls';

/**
 * The first bytes of a TLS 1.3 ClientHello record: a record header announcing 512 bytes, then a
 * handshake header. The listener starts a handshake on them and waits for the rest, which never comes.
 */
const PARTIAL_CLIENT_HELLO = Buffer.from('1603010200010001fc0303', 'hex');

/** A TCP caller that begins a TLS handshake and stalls. `closed` resolves when the node hangs up. */
export interface Stalled {
  readonly socket: Socket;
  readonly closed: Promise<void>;
}

export function stalledHandshake(address: string): Stalled {
  const url = new URL(address);
  const socket = tcpConnect({ host: url.hostname, port: Number(url.port) });
  socket.on('error', () => {});
  socket.on('data', () => {});
  socket.once('connect', () => socket.write(PARTIAL_CLIENT_HELLO));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, closed };
}

/** How an idle authenticated caller fared. */
export interface IdleCaller {
  /** 'open': TLS and (when asked) the engine handshake succeeded; otherwise why not. */
  readonly outcome: 'open' | 'refused' | 'dial-failed';
  readonly connection: Connection | undefined;
  /** Resolves when the node closes the connection. */
  readonly closed: Promise<void>;
}

/**
 * A caller with its own fresh node key that authenticates over TLS, optionally completes the engine
 * handshake, and then sends nothing more.
 */
export async function idleCaller(
  address: string,
  target: NodeId,
  engineHandshake: boolean,
): Promise<IdleCaller> {
  const key = KeyPair.generate();
  const transport = tls({ handshakeTimeoutMs: 30_000 })({ keyPair: key, logger: noopLogger });
  let connection: Connection;
  try {
    connection = await transport.dial(address, target);
  } catch {
    await transport.close();
    return { outcome: 'dial-failed', connection: undefined, closed: Promise.resolve() };
  }
  let onReply: ((ok: boolean) => void) | undefined;
  let markClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => {
    markClosed = resolve;
  });
  const decoder = new FrameDecoder((tag, body) => {
    if (tag === FrameTag.ConnectReply) onReply?.(decodeConnectReply(unpack(body)).ok);
  });
  connection.setHandlers({
    onData: (chunk) => {
      try {
        decoder.push(chunk);
      } catch {
        // not under test
      }
    },
    onDrain: () => {},
    onClose: () => {
      onReply?.(false);
      markClosed();
      void transport.close();
    },
  });
  if (!engineHandshake) return { outcome: 'open', connection, closed };
  const ok = await new Promise<boolean>((resolve) => {
    onReply = resolve;
    connection.write(
      encodeFrame(
        FrameTag.ConnectRequest,
        encodeConnectRequest({
          protoMin: PROTOCOL_MIN,
          protoMax: PROTOCOL_MAX,
          src: key.id,
          dst: target,
          srcAdvertVersion: 0,
          dstAdvertVersion: 0,
        }),
      ),
    );
  });
  return { outcome: ok ? 'open' : 'refused', connection, closed };
}
