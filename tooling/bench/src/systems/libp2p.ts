import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p, type Libp2p } from 'libp2p';
import { FrameSplitter, frame } from '../payload.js';
import type { Endpoint, Link, SystemFactory } from './types.js';

/** The stream type, taken from the API (the interface package is not a direct dependency). */
type Stream = Awaited<ReturnType<Awaited<ReturnType<Libp2p['dial']>>['newStream']>>;

const PROTOCOL = '/netmachine-bench/stream/1.0.0';

/**
 * The js-libp2p peer: TCP + noise + yamux, one stream per connection carrying u32 length-prefixed
 * 200-byte messages, one `send` per message, honouring the stream's backpressure.
 */
function createNode(listen: boolean): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0'] : [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // The connect scenario dials the same listener over and over; the defaults would throttle it.
    connectionManager: { inboundConnectionThreshold: 10_000, maxIncomingPendingConnections: 1000 },
  });
}

function readFrames(stream: Stream, onFrame: (payload: Uint8Array) => void): void {
  const splitter = new FrameSplitter(onFrame);
  stream.addEventListener('message', (event) => {
    const data = event.data;
    splitter.push(data instanceof Uint8Array ? data : data.subarray());
  });
}

export const libp2p: SystemFactory = async () => {
  let dialer: Promise<Libp2p> | undefined;
  const listeners: Libp2p[] = [];

  return {
    async listen({ onMessage, echo = false }): Promise<Endpoint> {
      const node = await createNode(true);
      listeners.push(node);
      await node.handle(PROTOCOL, (stream) => {
        readFrames(stream, (payload) => {
          onMessage(payload);
          if (echo) stream.send(frame(payload));
        });
      });
      return {
        info: { address: node.getMultiaddrs()[0]!.toString() },
        close: async () => {
          await node.stop();
        },
      };
    },

    async connect({ target, onMessage }): Promise<Link> {
      dialer ??= createNode(false);
      const node = await dialer;
      const connection = await node.dial(multiaddr((target as { address: string }).address));
      const stream = await connection.newStream(PROTOCOL);
      if (onMessage !== undefined) readFrames(stream, onMessage);
      return {
        send: (payload) => stream.send(frame(payload)),
        drained: () => stream.onDrain(),
        async close() {
          await stream.close().catch(() => {});
          await connection.close().catch(() => {});
        },
      };
    },

    async shutdown() {
      await Promise.all([...listeners.map((node) => node.stop()), dialer?.then((node) => node.stop())]);
    },
  };
};
