import { HandshakeError, type Logger, type NodeId } from '@netmachine/core';
import type { FrameWriter } from './frame-writer.js';
import {
  connectReplyError,
  connectReplyOf,
  connectRequestFrame,
  connectRequestOf,
  judgeConnectRequest,
} from './handshake.js';
import type { SessionOptions } from './session-options.js';
import { encodeFrame } from './wire/frame-codec.js';
import { type ConnectReply, encodeAdvertFrameBody, encodeConnectReply, FrameTag } from './wire/frames.js';

// The handshake of one session, kept apart from the session: it runs once per connection, before
// any message, so none of it sits on the per-frame path.

/**
 * Accepting ConnectReply frames by what they say (protocol and the two advert versions): a listener
 * answers every caller with one of a few, and encoding it is on the path to the caller's first
 * message. Handed to the connection as they are: it only ever reads them.
 */
const acceptingReplies = new Map<string, Buffer>();
const MAX_ACCEPTING_REPLIES = 256;

function acceptingReply(proto: number, srcAdvertVersion: number, dstAdvertVersion: number): Buffer {
  const key = `${proto} ${srcAdvertVersion} ${dstAdvertVersion}`;
  let frame = acceptingReplies.get(key);
  if (frame === undefined) {
    const reply: ConnectReply = { ok: true, proto, srcAdvertVersion, dstAdvertVersion };
    frame = encodeFrame(FrameTag.ConnectReply, encodeConnectReply(reply));
    if (acceptingReplies.size >= MAX_ACCEPTING_REPLIES) acceptingReplies.clear();
    acceptingReplies.set(key, frame);
  }
  return frame;
}

/** How the owner starts a session's handshake (see `ConnectionSession.handshake`). */
export interface HandshakeStart {
  /** The transport already sent our ConnectRequest (`connectRequestFrame`) with its own handshake. */
  readonly requestSent?: boolean;
  /** When the transport sent it (performance.now()), for the first RTT. */
  readonly requestSentAt?: number;
  /** The version of our advert the transport already sent with the ConnectRequest (not sent again). */
  readonly advertSent?: number;
  /**
   * Runs the moment the link opens, before any frame that came behind the handshake is read
   * (messages the dialer sent with its ConnectRequest), so the owner can adopt the session before
   * they are delivered.
   */
  readonly onOpen?: () => void;
}

/** The two ends of the link, as the handshake sees them. */
export interface HandshakeLink {
  readonly local: NodeId;
  readonly peer: NodeId;
  readonly direction: 'inbound' | 'outbound';
}

/** The peer's handshake frame accepted: what the link opens with. */
export interface HandshakeAgreement {
  readonly proto: number;
  /** The version of our advert the peer says it holds. */
  readonly peerHoldsOurVersion: number;
}

/**
 * A handshake under way: its promise, its timeout, what was sent ahead of it, and the judging of the
 * peer's first frame. The session moves to `open` or fails on what `read` returns.
 */
export class SessionHandshake {
  readonly done: Promise<void>;
  /** Outbound: when our ConnectRequest left (performance.now()); its reply gives the first RTT. */
  requestSentAt: number | undefined;
  /** The version of our advert sent ahead of the handshake's end (with the ConnectRequest), or 0. */
  readonly #advertSentEarly: number;
  readonly #link: HandshakeLink;
  readonly #o: SessionOptions;
  readonly #writer: FrameWriter;
  readonly #onOpen: (() => void) | undefined;
  #resolve!: () => void;
  #reject!: (error: Error) => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(link: HandshakeLink, options: SessionOptions, writer: FrameWriter, start: HandshakeStart) {
    this.#link = link;
    this.#o = options;
    this.#writer = writer;
    this.#onOpen = start.onOpen;
    this.done = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#advertSentEarly = start.advertSent ?? 0;
    this.requestSentAt = start.requestSentAt;
  }

  /** Outbound, when the transport did not send it with its own handshake: our ConnectRequest. */
  sendRequest(): void {
    this.requestSentAt = performance.now();
    this.#writer.writeNow(
      connectRequestFrame({
        local: this.#link.local,
        peer: this.#link.peer,
        localAdvertVersion: this.#o.localAdvert()?.version ?? 0,
        peerAdvertVersion: this.#o.directory.node(this.#link.peer)?.advert?.version ?? 0,
      }),
    );
  }

  armTimeout(onTimeout: () => void): void {
    this.#timer = setTimeout(onTimeout, this.#o.limits.handshakeTimeoutMs);
  }

  disarm(): void {
    clearTimeout(this.#timer);
  }

  /**
   * Judges the peer's handshake frame (ConnectRequest inbound, ConnectReply outbound) and answers a
   * ConnectRequest. Returns the agreement, or the error the peer was refused (or refused us) with;
   * throws for a frame of the wrong type.
   */
  read(tag: number, body: Buffer): HandshakeAgreement | Error {
    if (this.#link.direction === 'inbound') {
      if (tag !== FrameTag.ConnectRequest)
        throw new HandshakeError(`expected ConnectRequest, got frame ${tag}`);
      return this.#onConnectRequest(body);
    }
    if (tag !== FrameTag.ConnectReply) throw new HandshakeError(`expected ConnectReply, got frame ${tag}`);
    const reply = connectReplyOf(body);
    const error = connectReplyError(reply, this.#link.peer);
    if (error !== undefined || !reply.ok) return error ?? new HandshakeError('refused');
    return { proto: reply.proto, peerHoldsOurVersion: reply.dstAdvertVersion };
  }

  #onConnectRequest(body: Buffer): HandshakeAgreement | Error {
    const request = connectRequestOf(body);
    const { local, peer } = this.#link;
    const verdict = judgeConnectRequest(request, local, peer, this.#o.hooks.admit);
    if (!verdict.ok) {
      this.#o.counters.inboundRefused++;
      const reply: ConnectReply = { ok: false, error: verdict.kind, reason: verdict.reason };
      this.#writer.writeNow(encodeFrame(FrameTag.ConnectReply, encodeConnectReply(reply)));
      return verdict.error;
    }
    this.#writer.writeNow(
      acceptingReply(
        verdict.proto,
        this.#o.localAdvert()?.version ?? 0,
        this.#o.directory.node(peer)?.advert?.version ?? 0,
      ),
    );
    return { proto: verdict.proto, peerHoldsOurVersion: request.dstAdvertVersion };
  }

  /**
   * The link is open: sends our advert if the peer's copy (`peerHoldsOurVersion`, or the one sent
   * with our ConnectRequest) is stale. Returns the version the peer now holds or was sent.
   */
  sendAdvertIfStale(peerHoldsOurVersion: number): number {
    const advert = this.#o.localAdvert();
    const held = Math.max(peerHoldsOurVersion, this.#advertSentEarly);
    if (advert === undefined || advert.version <= held) return held;
    this.#o.counters.advertsSent++;
    this.#writer.enqueue(encodeFrame(FrameTag.NodeAdvert, encodeAdvertFrameBody(advert)));
    return advert.version;
  }

  /** The link is open: the owner's `onOpen` runs, then the handshake's promise resolves. */
  opened(logger: Logger): void {
    try {
      this.#onOpen?.();
    } catch (error) {
      logger.error({ err: error, peer: this.#link.peer }, 'onOpen threw');
    }
    this.#resolve();
  }

  failed(error: Error): void {
    this.#reject(error);
  }
}
