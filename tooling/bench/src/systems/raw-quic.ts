import { createHmac, randomFillSync, timingSafeEqual } from 'node:crypto';
import { events, QUICClient, type QUICConnection, QUICServer, type QUICStream } from '@matrixai/quic';
import { FrameSplitter, frame } from '../payload.js';
import { selfSignedPem } from './certificate.js';
import type { Endpoint, Link, SystemFactory } from './types.js';

/**
 * The floor under our QUIC transport, used naively: @matrixai/quic with default settings, one
 * bidirectional stream, one length-prefixed write per message, awaiting the stream's backpressure.
 * Both sides present a certificate and accept any (as the raw TLS peer does).
 */

type QuicLogger = ConstructorParameters<typeof QUICServer>[0]['logger'];

// @matrixai/quic logs at INFO to stderr unless given a logger; this one drops everything.
const silent: Record<string, unknown> = {};
for (const level of ['debug', 'info', 'warn', 'error', 'setLevel']) silent[level] = () => {};
silent.getChild = () => silent;
const logger = silent as unknown as QuicLogger;

const acceptAnyPeer = async (): Promise<undefined> => undefined;

function serverCrypto() {
  // The server signs its stateless-retry tokens; HMAC is what those need.
  const key = randomFillSync(new Uint8Array(32)).buffer;
  const mac = (k: ArrayBuffer, data: ArrayBuffer): Buffer =>
    createHmac('sha256', Buffer.from(k)).update(Buffer.from(data)).digest();
  return {
    key,
    ops: {
      sign: async (k: ArrayBuffer, data: ArrayBuffer) => {
        const digest = mac(k, data);
        return digest.buffer.slice(digest.byteOffset, digest.byteOffset + digest.length) as ArrayBuffer;
      },
      verify: async (k: ArrayBuffer, data: ArrayBuffer, sig: ArrayBuffer) => {
        const expected = mac(k, data);
        return expected.length === sig.byteLength && timingSafeEqual(expected, Buffer.from(sig));
      },
    },
  };
}

const clientCrypto = {
  ops: {
    randomBytes: async (data: ArrayBuffer): Promise<void> => {
      randomFillSync(new Uint8Array(data));
    },
  },
};

async function readFrames(stream: QUICStream, onFrame: (payload: Uint8Array) => void): Promise<void> {
  const splitter = new FrameSplitter(onFrame);
  try {
    for await (const chunk of stream.readable) splitter.push(chunk);
  } catch {
    // The stream ends with an error when the far side closes its connection abruptly.
  }
}

function streamLink(stream: QUICStream, close: () => Promise<void>): Link {
  const writer = stream.writable.getWriter();
  const ignore = (): void => {};
  return {
    send(payload) {
      writer.write(frame(payload)).catch(ignore);
      return (writer.desiredSize ?? 0) > 0;
    },
    drained: () => writer.ready,
    async close() {
      await writer.close().catch(ignore);
      await close();
    },
  };
}

export const rawQuic: SystemFactory = async () => {
  const { certPem, keyPem } = await selfSignedPem();
  const tlsConfig = { key: keyPem, cert: certPem, verifyPeer: true, verifyCallback: acceptAnyPeer };

  return {
    async listen({ onMessage, echo = false }): Promise<Endpoint> {
      const server = new QUICServer({ crypto: serverCrypto(), config: tlsConfig, logger });
      server.addEventListener(events.EventQUICServerConnection.name, (event: Event) => {
        const connection = (event as events.EventQUICServerConnection).detail as QUICConnection;
        connection.addEventListener(events.EventQUICConnectionStream.name, (streamEvent: Event) => {
          const stream = (streamEvent as events.EventQUICConnectionStream).detail;
          const writer = echo ? stream.writable.getWriter() : undefined;
          void readFrames(stream, (payload) => {
            onMessage(payload);
            writer?.write(frame(payload)).catch(() => {});
          });
        });
      });
      await server.start({ host: '127.0.0.1', port: 0 });
      return { info: { port: server.port }, close: () => server.stop({ force: true }) };
    },

    async connect({ target, onMessage }): Promise<Link> {
      const { port } = target as { port: number };
      const client = await QUICClient.createQUICClient({
        host: '127.0.0.1',
        port,
        localHost: '127.0.0.1',
        crypto: clientCrypto,
        config: tlsConfig,
        logger,
      });
      const stream = client.connection.newStream('bidi');
      void readFrames(stream, (payload) => onMessage?.(payload));
      return streamLink(stream, () => client.destroy({ force: true }));
    },
  };
};
