import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { type Connection, type KeyPair, type NodeId, noopLogger, unpack } from '@netmachine/core';
import {
  decodeConnectReply,
  encodeConnectRequest,
  encodeFrame,
  FrameDecoder,
  FrameTag,
  PROTOCOL_MAX,
  PROTOCOL_MIN,
} from '@netmachine/transport/wire';
import { type TlsTransport, tls } from '@netmachine/transport-tls';
import type { Stage } from './fuzz-frames.js';

/** Dials an authenticated fuzzer makes for one frame before it reports the frame undelivered. */
const DIAL_ATTEMPTS = 3;

/** How one hostile connection ended. */
export type Outcome = 'closed' | 'not-closed' | 'dial-failed' | 'handshake-refused';

/** A connection whose close we wait for; a peer that never closes it is reported, not waited on forever. */
function closedWithin(onClose: (done: () => void) => void, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    onClose(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * A client holding a real node key: it authenticates over TLS like any node and then misbehaves.
 * One per key; connections are made one after the other so the target never sees two at once from
 * the same key (which it would resolve as duplicates rather than as bad input).
 */
export class AuthenticatedFuzzer {
  readonly #transport: TlsTransport;
  readonly #key: KeyPair;
  /** Dials made again because one failed (counted in the report). */
  dialRetries = 0;

  constructor(key: KeyPair) {
    this.#key = key;
    this.#transport = tls({ handshakeTimeoutMs: 20_000 })({ keyPair: key, logger: noopLogger });
  }

  /**
   * Dials `target`, completes the engine handshake when `stage` is 'open', sends `frame`, and waits
   * for the target to close the connection.
   */
  async send(
    address: string,
    target: NodeId,
    frame: Buffer,
    stage: Stage,
    timeoutMs = 30_000,
  ): Promise<Outcome> {
    const connection = await this.#dial(address, target);
    if (connection === undefined) return 'dial-failed';
    let onClosed: (() => void) | undefined;
    let closed = false;
    let replied: ((ok: boolean) => void) | undefined;
    const decoder = new FrameDecoder((tag, body) => {
      if (tag === FrameTag.ConnectReply) replied?.(decodeConnectReply(unpack(body)).ok);
    });
    connection.setHandlers({
      onData: (chunk) => {
        try {
          decoder.push(chunk);
        } catch {
          // The target's frames are not under test here.
        }
      },
      onDrain: () => {},
      onClose: () => {
        closed = true;
        replied?.(false);
        onClosed?.();
      },
    });
    if (stage === 'open') {
      const accepted = new Promise<boolean>((resolve) => {
        replied = resolve;
      });
      connection.write(
        encodeFrame(
          FrameTag.ConnectRequest,
          encodeConnectRequest({
            protoMin: PROTOCOL_MIN,
            protoMax: PROTOCOL_MAX,
            src: this.#key.id,
            dst: target,
            srcAdvertVersion: 0,
            dstAdvertVersion: 0,
          }),
        ),
      );
      if (!(await accepted)) {
        connection.abort();
        return 'handshake-refused';
      }
    }
    const done = closedWithin((fire) => {
      if (closed) fire();
      else onClosed = fire;
    }, timeoutMs);
    if (!closed) connection.write(frame);
    const ok = await done;
    if (!ok) connection.abort();
    return ok ? 'closed' : 'not-closed';
  }

  close(): Promise<void> {
    return this.#transport.close();
  }

  /**
   * A dial is not part of the attack, and the target times out handshakes (2 s in the fuzz test),
   * which a target starved of CPU can miss for an honest handshake too: a failed dial is made again,
   * a few times, before the frame counts as never delivered.
   */
  async #dial(address: string, target: NodeId): Promise<Connection | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#transport.dial(address, target);
      } catch {
        if (attempt >= DIAL_ATTEMPTS) return undefined;
        this.dialRetries++;
      }
    }
  }
}

function parseHostPort(address: string): { host: string; port: number } {
  const url = new URL(address);
  return { host: url.hostname, port: Number(url.port) };
}

/** A plain TCP caller that writes `bytes` to a TLS port and waits for the target to hang up. */
export function rawTcp(address: string, bytes: Buffer, timeoutMs = 30_000): Promise<Outcome> {
  const { host, port } = parseHostPort(address);
  const socket = tcpConnect({ host, port });
  socket.on('error', () => {});
  socket.on('data', () => {});
  socket.once('connect', () => socket.write(bytes));
  return closedWithin((fire) => socket.once('close', fire), timeoutMs).then((ok) => {
    socket.destroy();
    return ok ? 'closed' : 'not-closed';
  });
}

/**
 * A TLS caller without a node certificate (or with `cert`/`key` of a non-node key): the TLS layer
 * may finish, but the target must refuse it and never read its bytes as frames.
 */
export function anonymousTls(
  address: string,
  bytes: Buffer,
  credentials: { cert?: string; key?: string } = {},
  timeoutMs = 30_000,
): Promise<Outcome> {
  const { host, port } = parseHostPort(address);
  const socket = tlsConnect({
    host,
    port,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.3',
    ...credentials,
  });
  socket.on('error', () => {});
  socket.on('data', () => {});
  socket.once('secureConnect', () => socket.write(bytes));
  return closedWithin((fire) => socket.once('close', fire), timeoutMs).then((ok) => {
    socket.destroy();
    return ok ? 'closed' : 'not-closed';
  });
}
