import { type Connection, type KeyPair, type NodeId, noopLogger, unpack } from '@netmachine/core';
import {
  type ConnectReply,
  decodeConnectReply,
  encodeConnectRequest,
  encodeFrame,
  FrameDecoder,
  FrameTag,
  PROTOCOL_MAX,
  PROTOCOL_MIN,
} from '@netmachine/transport/wire';
import { type TlsTransport, tls } from '@netmachine/transport-tls';

/**
 * A node-to-node link driven by hand: authenticated over TLS with a real key, then any frame the
 * test wants to write, forged ones included. Records the ConnectReply and whether the other side
 * closed the connection.
 */
export class RogueLink {
  readonly #transport: TlsTransport;
  #connection: Connection | undefined;
  #reply: Promise<ConnectReply> | undefined;
  readonly closed: Promise<void>;
  #markClosed: () => void = () => {};
  isClosed = false;

  constructor(readonly key: KeyPair) {
    this.#transport = tls({ handshakeTimeoutMs: 30_000 })({ keyPair: key, logger: noopLogger });
    this.closed = new Promise((resolve) => {
      this.#markClosed = resolve;
    });
  }

  /** Dials `target` at `address` and sends a ConnectRequest naming `src` (our own key unless forged). */
  async open(address: string, target: NodeId, src: NodeId = this.key.id): Promise<ConnectReply> {
    const connection = await this.#transport.dial(address, target);
    this.#connection = connection;
    let resolveReply: (reply: ConnectReply) => void = () => {};
    this.#reply = new Promise((resolve) => {
      resolveReply = resolve;
    });
    const decoder = new FrameDecoder((tag, body) => {
      if (tag === FrameTag.ConnectReply) resolveReply(decodeConnectReply(unpack(body)));
    });
    connection.setHandlers({
      onData: (chunk) => {
        try {
          decoder.push(chunk);
        } catch {
          // The other side's frames are not under test.
        }
      },
      onDrain: () => {},
      onClose: () => {
        this.isClosed = true;
        resolveReply({ ok: false, error: 'Denied', reason: 'closed before a reply' });
        this.#markClosed();
      },
    });
    connection.write(
      encodeFrame(
        FrameTag.ConnectRequest,
        encodeConnectRequest({
          protoMin: PROTOCOL_MIN,
          protoMax: PROTOCOL_MAX,
          src,
          dst: target,
          srcAdvertVersion: 0,
          dstAdvertVersion: 0,
        }),
      ),
    );
    return this.#reply;
  }

  write(frame: Buffer): void {
    this.#connection?.write(frame);
  }

  async close(): Promise<void> {
    this.#connection?.abort();
    await this.#transport.close();
  }
}
