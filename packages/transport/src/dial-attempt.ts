import {
  type Connection,
  ConnectionClosedError,
  type EngineMessage,
  type KeyPair,
  type Logger,
  type NodeAdvert,
  type NodeDirectory,
  type NodeId,
  PeerDeniedError,
  TRUST_BANNED,
  type Transport,
} from '@netmachine/core';
import type { ConnectionSession } from './connection-session.js';
import type { TransportCounters, TransportDropReason } from './counters.js';
import { dialNode } from './dialer.js';
import {
  commitFirstFlight,
  type PreparedFlight,
  prepareFirstFlight,
  refusedBeforeReading,
  takeFirstFlight,
} from './first-flight.js';
import { connectRequestFrame } from './handshake.js';
import type { TransportLimits } from './limits.js';
import type { NodeLink } from './node-link.js';
import type { QueueEntry } from './node-queue.js';
import { appendOutgoing } from './outgoing-message.js';
import { encodeFrame } from './wire/frame-codec.js';
import type { FrameSlab } from './wire/frame-slab.js';
import { encodeAdvertFrameBody, FrameTag } from './wire/frames.js';

/** What a dial needs from the engine: made once, shared by every dial. */
export interface DialHost {
  readonly node: NodeId;
  readonly keyPair: KeyPair;
  readonly strict: boolean;
  readonly directory: NodeDirectory;
  readonly transports: ReadonlyMap<string, Transport>;
  readonly transportOrder: readonly string[] | undefined;
  readonly limits: TransportLimits;
  readonly logger: Logger;
  readonly counters: TransportCounters;
  /** The version of our advert each peer held when we last connected. */
  readonly advertHeld: ReadonlyMap<NodeId, number>;
  readonly running: () => boolean;
  localAdvert(): NodeAdvert | undefined;
  undeliverable(message: EngineMessage, error: Error, reason: TransportDropReason): void;
  /** Makes (and tracks) the session for a new connection. */
  session(connection: Connection): ConnectionSession;
  /** The session opened: the engine adopts it. */
  opened(session: ConnectionSession): void;
}

/**
 * Dials the node and runs the handshake; the engine adopts the session as it opens. A transport that
 * sends first bytes early carries the waiting messages with the ConnectRequest (see first-flight.ts):
 * if the listener refuses, they go back to the queue; if the connection breaks during the
 * handshake, they may have been delivered and are reported undeliverable (never sent twice).
 */
export async function dialLink(
  host: DialHost,
  link: NodeLink,
  signal: AbortSignal,
): Promise<ConnectionSession> {
  const record = host.directory.node(link.node);
  if (record?.trust === TRUST_BANNED) throw new PeerDeniedError(link.node, 'trust 0');
  const counters = host.counters;
  let request: Buffer | undefined;
  const connectRequest = (): Buffer =>
    (request ??= connectRequestFrame({
      local: host.node,
      peer: link.node,
      localAdvertVersion: host.localAdvert()?.version ?? 0,
      peerAdvertVersion: record?.advert?.version ?? 0,
    }));
  // The messages that left with this attempt's ConnectRequest, and the advert version sent with them.
  let sent: QueueEntry[] = [];
  let advertSent = 0;
  let requestSentAt: number | undefined;
  /** Our advert, when the listener may not hold it (sent ahead of the first messages). */
  const advertToSend = (): NodeAdvert | undefined => {
    const advert = host.localAdvert();
    if (advert === undefined || (host.advertHeld.get(link.node) ?? 0) >= advert.version) return undefined;
    return advert;
  };
  const append = (slab: FrameSlab, message: EngineMessage): void =>
    appendOutgoing(slab, message, host.keyPair, host.strict, host.limits.maxFrameSize);
  // The first flight, encoded while the transport's handshake runs (see prepareFirstFlight).
  let prepared: PreparedFlight | undefined;
  const dialing = dialNode({
    node: link.node,
    record,
    messagePrefs: link.prefs?.transports,
    transports: host.transports,
    defaultOrder: host.transportOrder ?? [...host.transports.keys()],
    dialTimeoutMs: host.limits.dialTimeoutMs,
    signal,
    logger: host.logger,
    // Once the transport's first packets are out (a socket transport's SYN and TLS ClientHello):
    // the ConnectRequest and the first flight are not needed before its handshake is done, so
    // making them now keeps them off the path from the peer's key to our first bytes.
    prepareFirstBytes: () => {
      try {
        connectRequest();
        const advert = advertToSend();
        prepared = prepareFirstFlight(
          link.queue,
          connectRequest(),
          append,
          advert === undefined
            ? undefined
            : {
                version: advert.version,
                frame: () => encodeFrame(FrameTag.NodeAdvert, encodeAdvertFrameBody(advert)),
              },
        );
      } catch {
        prepared = undefined; // built when sent instead, which reports what cannot be sent
      }
    },
    firstBytes: () => {
      requestSentAt = performance.now();
      const ready = prepared;
      prepared = undefined;
      const committed =
        ready === undefined ? undefined : commitFirstFlight(link.queue, ready, advertToSend()?.version ?? 0);
      if (committed !== undefined) advertSent = ready?.advertVersion ?? 0;
      const flight =
        committed ??
        takeFirstFlight(
          link.queue,
          connectRequest(),
          append,
          (message, error, reason) => host.undeliverable(message, error, reason),
          link.node,
          () => {
            const advert = advertToSend();
            if (advert === undefined) return;
            advertSent = advert.version;
            return encodeFrame(FrameTag.NodeAdvert, encodeAdvertFrameBody(advert));
          },
        );
      sent = flight.taken;
      if (flight.advertSent) counters.advertsSent++;
      else advertSent = 0;
      counters.messagesOut += sent.length;
      counters.framesOut += sent.length;
      return flight.bytes;
    },
    attemptFailed: (error) => {
      const lost = sent;
      sent = [];
      advertSent = 0;
      if (refusedBeforeReading(error)) link.queue.unshift(lost);
      else for (const entry of lost) host.undeliverable(entry.message, error, 'handshake-failed');
    },
    open: async (connection, requestSent) => {
      if (!host.running()) {
        connection.abort(new ConnectionClosedError('transport engine stopped'));
        throw new ConnectionClosedError('transport engine stopped');
      }
      const session = host.session(connection);
      await session.handshake({
        requestSent,
        requestSentAt: requestSent ? requestSentAt : undefined,
        advertSent,
        onOpen: () => host.opened(session),
      });
      session.traffic.messagesOut += sent.length;
      sent = [];
      return session;
    },
  });
  return dialing;
}
