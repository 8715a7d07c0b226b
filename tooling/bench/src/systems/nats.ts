import { connect, createInbox, type NatsConnection } from '@nats-io/transport-node';
import type { Endpoint, Link, SystemFactory } from './types.js';

const SUBJECT = 'bench.stream';
/** Messages between flushes, and flushes allowed in flight, when publishing a stream. */
const FLUSH_EVERY = 8192;
const FLUSHES_IN_FLIGHT = 4;
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * The NATS peer: @nats-io/transport-node against a real nats-server the parent started for this run.
 * Publishing is synchronous into the client's buffer, so the sender paces itself with pipelined
 * flushes (PING/PONG round trips); without that it would only measure memory.
 */
export const nats: SystemFactory = async (config) => {
  const { url } = config.shared as { url: string };
  const open = (): Promise<NatsConnection> => connect({ servers: url, noEcho: true });

  async function subscribe({
    onMessage,
    echo = false,
  }: {
    onMessage(payload: Uint8Array): void;
    echo?: boolean;
  }): Promise<Endpoint> {
    const nc = await open();
    nc.subscribe(SUBJECT, {
      callback: (error, msg) => {
        if (error !== null) return;
        onMessage(msg.data);
        if (echo && msg.reply !== undefined) nc.publish(msg.reply, msg.data);
      },
    });
    // The subscription must be known to the server before anyone publishes.
    await nc.flush();
    return { info: { subject: SUBJECT }, close: () => nc.close() };
  }

  async function publisher(onMessage?: (payload: Uint8Array) => void): Promise<Link> {
    const nc = await open();
    let reply: string | undefined;
    if (onMessage !== undefined) {
      reply = createInbox();
      nc.subscribe(reply, {
        callback: (error, msg) => {
          if (error === null) onMessage(msg.data);
        },
      });
    }
    const options = reply !== undefined ? { reply } : undefined;
    const flushes: Promise<void>[] = [];
    let sinceFlush = 0;
    return {
      send(payload) {
        nc.publish(SUBJECT, payload, options);
        if (++sinceFlush < FLUSH_EVERY) return true;
        sinceFlush = 0;
        flushes.push(nc.flush());
        return flushes.length <= FLUSHES_IN_FLIGHT;
      },
      async drained() {
        while (flushes.length > FLUSHES_IN_FLIGHT) await flushes.shift();
      },
      async request(payload) {
        return (await nc.request(SUBJECT, payload, { timeout: REQUEST_TIMEOUT_MS })).data;
      },
      async close() {
        await Promise.all(flushes.splice(0));
        await nc.close();
      },
    };
  }

  return {
    listen: subscribe,
    subscribe,
    connect: ({ onMessage }) => publisher(onMessage),
    publisher: () => publisher(),
  };
};
