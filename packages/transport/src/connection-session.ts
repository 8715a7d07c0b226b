import {
  type Connection,
  ConnectionClosedError,
  type EngineMessage,
  HandshakeError,
  leaseMessageBytes,
  NetmachineError,
  type NodeAdvert,
  type NodeId,
} from '@netmachine/core';
import { authenticateInbound, authenticationFailure } from './authenticate.js';
import { newPeerTrafficCounters, type PeerTrafficCounters, type TransportDropReason } from './counters.js';
import { ProtocolViolationError } from './errors.js';
import { FrameWriter } from './frame-writer.js';
import { InboundVerifier } from './inbound-verifier.js';
import { goodbyeFrame, LinkCloser } from './link-closer.js';
import { decodeLinkFrame } from './link-frames.js';
import { LinkPinger } from './link-pinger.js';
import { ReplayWindow } from './replay-window.js';
import { type HandshakeStart, SessionHandshake } from './session-handshake.js';
import type { SessionOptions } from './session-options.js';
import { encodeFrame, FrameDecoder } from './wire/frame-codec.js';
import { sharedFramePool } from './wire/frame-pool.js';
import { FrameTag, type Goodbye, RELAY_FRAME_ENGINE, RELAY_FRAME_PROTOCOL } from './wire/frames.js';
import { LinkAddresses } from './wire/link-addresses.js';
import { decodeMessageAt } from './wire/message-frame.js';

type State = 'handshake' | 'open' | 'closing' | 'closed';

const now = (): number => performance.now();

/**
 * One peer connection: the handshake, framing in both directions, coalescing of outgoing frames
 * into one write per tick, backpressure, pings, and the checks on every inbound message. The
 * handshake (`SessionHandshake`), pings (`LinkPinger`) and the end of the connection (`LinkCloser`)
 * run once or on a timer and live in their own files; what stays here is the state they share and
 * the per-frame, per-message path, written out in place so that it costs no extra call.
 */
export class ConnectionSession {
  readonly peer: NodeId;
  readonly local: NodeId;
  readonly connection: Connection;
  /** Protocol version agreed in the handshake. */
  proto = 0;
  /** Last measured round-trip time in ms. */
  rttMs: number | undefined;
  /** Messages and bytes in and out on this connection (plain numbers, bumped next to the node-wide ones). */
  readonly traffic: PeerTrafficCounters = newPeerTrafficCounters();
  /** Set when a message goes either way; read (and cleared) by `lastMessageAt`. */
  #active = false;
  #lastMessageAt = now();
  readonly #o: SessionOptions;
  readonly #decoder: FrameDecoder;
  /** Address objects shared by the messages of this link. */
  readonly #addresses: LinkAddresses;
  readonly #writer: FrameWriter;
  #state: State = 'handshake';
  #failure: Error | undefined;
  /** The handshake under way; undefined before it starts and once it ends. */
  #handshake: SessionHandshake | undefined;
  /** Once open: the highest version of our advert the peer holds (or was sent on this link). */
  peerHoldsOurAdvert = 0;
  /** Pings once the link is open: RTT and liveness. */
  readonly #pinger: LinkPinger;
  /** Closes the connection once the session has said goodbye (or failed). */
  readonly #closer: LinkCloser;
  #peerSaidGoodbye = false;
  /** Ids of the peer's messages already delivered on this connection. */
  readonly #seen = new ReplayWindow();
  /** Messages the receiver kept while full; reading resumes when it has taken them all. */
  #parked = 0;
  /**
   * Messages decoded from data already read when the receiver filled up (the rest of that chunk):
   * held here, in order, until it has room. Bounded by one read's worth, since reading is paused.
   */
  #held: EngineMessage[] = [];
  #heldHead = 0;
  /** Strict mode with a signature pool: inbound messages wait here for their verdict, in order. */
  readonly #verifier: InboundVerifier | undefined;
  /** The verifier is at its bound: reading stays paused until it has room. */
  #verifierFull = false;

  /** The receiver has room for one more kept message: once all are taken, go on. */
  readonly onRoom = (): void => {
    if (this.#parked > 0 && --this.#parked === 0) queueMicrotask(this.#resumeDelivery);
  };

  readonly #resumeDelivery = (): void => {
    while (this.#parked === 0 && this.#heldHead < this.#held.length) {
      const message = this.#held[this.#heldHead] as EngineMessage;
      this.#held[this.#heldHead++] = undefined as unknown as EngineMessage;
      this.#deliverNow(message);
    }
    if (this.#heldHead >= this.#held.length) {
      this.#held = [];
      this.#heldHead = 0;
    }
    this.#resumeReading();
  };

  /** Reading goes on once neither the receiver nor the verifier holds it back. */
  #resumeReading(): void {
    if (this.#parked === 0 && !this.#verifierFull && this.#state !== 'closed') this.connection.resume?.();
  }

  constructor(options: SessionOptions) {
    this.#o = options;
    this.connection = options.connection;
    this.peer = options.connection.remoteNode;
    this.local = options.keyPair.id;
    this.#addresses = new LinkAddresses(this.peer, this.local);
    this.#decoder = FrameDecoder.ofSpans(
      (tag, buffer, start, end, release) => this.#onFrame(tag, buffer, start, end, release),
      options.limits.maxFrameSize,
      sharedFramePool,
    );
    this.#writer = new FrameWriter(
      options.connection,
      options.counters,
      options.limits.flushBytes,
      this.traffic,
    );
    this.#closer = new LinkCloser(options.connection, options.limits.closeTimeoutMs);
    this.#pinger = new LinkPinger(this, this.#writer, options.directory, options.limits);
    if (options.strict && options.signaturePool !== undefined) {
      this.#verifier = new InboundVerifier(options.signaturePool, options.limits.maxVerifyingPerLink, {
        deliver: (message) => this.#deliver(message),
        reject: (message) => this.#rejectForged(message),
        failed: (error) =>
          this.#fail(
            new ProtocolViolationError('signature verification failed', { cause: error }),
            undefined,
          ),
        full: () => {
          this.#verifierFull = true;
          this.connection.pause?.();
        },
        room: () => {
          this.#verifierFull = false;
          this.#resumeReading();
        },
      });
    }
  }

  /**
   * When a message last went either way (performance.now()): drives the idle timeout. Messages only
   * raise a flag; the clock is read when someone asks, so the hot path never reads it.
   */
  get lastMessageAt(): number {
    if (this.#active) {
      this.#active = false;
      this.#lastMessageAt = now();
    }
    return this.#lastMessageAt;
  }

  get state(): State {
    return this.#state;
  }

  get direction(): 'inbound' | 'outbound' {
    return this.connection.direction;
  }

  /** True when the session takes new messages now (open and not pushed back). */
  get accepting(): boolean {
    return this.#state === 'open' && !this.#writer.blocked;
  }

  /**
   * Runs the handshake; resolves once the link is open, rejects with a typed error (and the
   * connection closed) otherwise. The options are described on `HandshakeStart`.
   */
  handshake(options: HandshakeStart = {}): Promise<void> {
    // Made before the handlers are set: the bytes that came with the transport's handshake (the
    // ConnectReply, behind the listener's acceptance) are read inside `setHandlers`, and the reply
    // gives the RTT from `requestSentAt`.
    const handshake = new SessionHandshake(this, this.#o, this.#writer, options);
    this.#handshake = handshake;
    this.connection.setHandlers({
      onData: (chunk) => this.#onData(chunk),
      onDrain: () => this.#onDrain(),
      onClose: (error) => this.#onClose(error),
    });
    if (this.direction === 'outbound' && options.requestSent !== true) handshake.sendRequest();
    // Armed only if the bytes already read did not finish the handshake: on TLS the listener usually
    // has the ConnectRequest with the confirmation, and the dialer the ConnectReply with the acceptance.
    if (this.#state === 'handshake' && this.#handshake !== undefined) {
      handshake.armTimeout(() => this.#fail(new HandshakeError('handshake timed out'), undefined));
    }
    return handshake.done;
  }

  /**
   * Encodes and queues a message; throws a typed error when it cannot be encoded.
   *
   * A reply leaves at once when nothing is on its way to the peer: an idle reply does not wait for
   * the end of the tick (and for whatever its handler does next) to be written. The frames the tick
   * queues after it find the connection busy and are still coalesced into one write. Other messages
   * (requests, events: they carry a deadline too) wait for the end of the tick: a stream of events
   * flushed one by one whenever the socket drained cost pub/sub fanout about a quarter of its rate.
   */
  sendMessage(message: EngineMessage): void {
    if (this.#state !== 'open') throw new ConnectionClosedError(`link to ${this.peer} is ${this.#state}`);
    this.#writer.outgoing(message, this.#o.keyPair, this.#o.strict, this.#o.limits.maxFrameSize);
    if (message.replyTo !== undefined && this.connection.bufferedBytes === 0) this.#writer.flush(false);
    this.#o.counters.messagesOut++;
    this.traffic.messagesOut++;
    this.#active = true;
  }

  /**
   * Queues a Relay frame (`head` begins with its header, `sealed` follows; see `FrameTag.Relay`) and,
   * when nothing is on its way to the peer, writes it at once: a relay passes a lone request on in
   * the read that brought it, and a batch fills a frame of its own (so no small writes add up).
   */
  sendRelayFrame(head: Uint8Array, sealed: Uint8Array): void {
    if (this.#state !== 'open') throw new ConnectionClosedError(`link to ${this.peer} is ${this.#state}`);
    this.#writer.enqueueParts(head, sealed);
    if (this.connection.bufferedBytes === 0) this.#writer.flush(false);
    this.#active = true;
  }

  /**
   * Says goodbye and closes. The peer answers a Goodbye by sending nothing more and closing its
   * side, so waiting for that close (up to `closeTimeoutMs`) loses none of the messages it wrote
   * before it heard us. A connection that reads after its own close (`readsAfterClose`: TLS) closes
   * our side right behind the Goodbye and goes on reading until the peer's close, which costs no
   * wait for the peer's answer; on the others we wait for it before closing. Resolves when the
   * connection is closed.
   */
  close(code = 'closing', reason = ''): Promise<void> {
    return this.#close(code, reason, true);
  }

  #close(code: string, reason: string, waitForPeer: boolean): Promise<void> {
    const closing = this.#closer.promise;
    if (closing !== undefined) return closing;
    if (this.#state === 'closed') return Promise.resolve();
    const goodbye = this.#state === 'open';
    if (goodbye) this.#enqueue(goodbyeFrame(code, reason));
    this.#state = 'closing';
    this.#stopTimers();
    this.#writer.flush(true);
    return this.#closer.begin(
      goodbye && waitForPeer && !this.#peerSaidGoodbye && this.connection.readsAfterClose !== true,
    );
  }

  abort(error: Error): void {
    this.#failure ??= error;
    this.connection.abort(error);
  }

  // --- output -------------------------------------------------------------

  #enqueue(frame: Buffer): void {
    this.#writer.enqueue(frame);
  }

  #writeNow(data: Buffer): void {
    this.#writer.writeNow(data);
  }

  #onDrain(): void {
    if (this.#writer.drained() && this.accepting) this.#o.hooks.onWritable(this);
  }

  // --- input --------------------------------------------------------------

  #onData(chunk: Buffer): void {
    // After a failure the stream position is unknown: nothing more is read from it.
    if (this.#failure !== undefined || this.#state === 'closed') return;
    this.#o.counters.bytesIn += chunk.length;
    this.traffic.bytesIn += chunk.length;
    // The receiver may hold back the work these messages start (running their engines) until the
    // whole read is delivered: see MessageSink.readStarted.
    const hooks = this.#o.hooks;
    hooks.readStarted?.();
    try {
      this.#decoder.push(chunk);
    } catch (error) {
      const typed =
        error instanceof NetmachineError ? error : new ProtocolViolationError('bad frame', { cause: error });
      this.#fail(typed, 'malformed-frame');
    } finally {
      hooks.readEnded?.();
    }
  }

  /**
   * `release`: `buffer` is a pooled buffer holding this frame alone. A message decoded from it is
   * leased to its consumer (who may hand the buffer back with `releaseMessageBytes`); any other frame
   * read into it leaves it to the GC.
   */
  #onFrame(tag: number, buffer: Buffer, start: number, end: number, release: (() => void) | undefined): void {
    if (this.#failure !== undefined) return;
    this.#o.counters.framesIn++;
    if (this.#state === 'handshake') {
      this.#onHandshakeFrame(tag, buffer.subarray(start, end));
      return;
    }
    if (tag === FrameTag.Message) {
      // Decoded where it lies in the bytes read (see decodeMessageAt).
      const message = decodeMessageAt(buffer, start, end, this.#addresses);
      // A frame the link delivered twice (a retransmitting relay, a faulty path) is dropped here.
      if (!this.#seen.accept(message.id)) {
        this.#o.counters.duplicatesDropped++;
        return;
      }
      if (release !== undefined) leaseMessageBytes(message, release);
      this.#onMessage(message);
      return;
    }
    if (tag === FrameTag.Relay) {
      this.#onRelayFrame(buffer, start, end, release);
      return;
    }
    const body = buffer.subarray(start, end);
    switch (tag) {
      case FrameTag.NodeAdvert:
        this.#onAdvert(decodeLinkFrame(tag, body) as NodeAdvert);
        return;
      case FrameTag.Ping:
        if (this.#state === 'open') this.#enqueue(encodeFrame(FrameTag.Pong, decodeLinkFrame(tag, body)));
        return;
      case FrameTag.Pong:
        this.#pinger.onPong(decodeLinkFrame(tag, body) as number);
        return;
      case FrameTag.Goodbye: {
        const goodbye = decodeLinkFrame(tag, body) as Goodbye;
        this.#o.logger.debug({ peer: this.peer, ...goodbye }, 'peer said goodbye');
        this.#peerSaidGoodbye = true;
        if (this.#state === 'closing') {
          // The answer to our own Goodbye: nothing more will come.
          this.#closer.closeConnection();
          return;
        }
        // Closing without a Goodbye of our own: the peer is already leaving.
        this.#state = 'closing';
        this.#o.hooks.onGoodbye(this, goodbye);
        void this.#close('goodbye', '', false);
        return;
      }
      default:
        decodeLinkFrame(tag, body); // throws for unknown tags
        throw new ProtocolViolationError(`frame type ${tag} after the handshake`);
    }
  }

  /**
   * A Relay frame is a message from the peer's relay engine to ours, its body the frame's: the link
   * authenticated the peer, and what the frame carries is sealed and authenticated end to end (the
   * relay engine checks it), so it has no id, signature or expiry of its own to check here.
   */
  #onRelayFrame(buffer: Buffer, start: number, end: number, release: (() => void) | undefined): void {
    const message: EngineMessage = {
      id: 0,
      src: this.#addresses.src(RELAY_FRAME_ENGINE),
      dst: this.#addresses.dst(RELAY_FRAME_ENGINE),
      protocol: RELAY_FRAME_PROTOCOL,
      body: buffer.subarray(start, end),
    };
    if (release !== undefined) leaseMessageBytes(message, release);
    this.#deliver(message);
  }

  #onMessage(message: EngineMessage): void {
    if (this.#verifier !== undefined) {
      // Strict mode: every message is checked, off the event loop; delivered in order when it holds.
      this.#verifier.push(message);
      return;
    }
    const verdict = authenticateInbound(message, this.peer, this.#o.strict);
    if (verdict.ok) {
      this.#deliver(message);
      return;
    }
    this.#forged(verdict.reason, verdict.error, message);
  }

  /** The verifier found `message`'s signature bad: the same verdict as on the event loop. */
  #rejectForged(message: EngineMessage): void {
    if (this.#failure !== undefined) return;
    const verdict = authenticationFailure(message, this.peer);
    this.#forged(verdict.reason, verdict.error, message);
  }

  /** A forged message: dropped, counted, and the peer that sent it disconnected. */
  #forged(reason: TransportDropReason, error: Error, message: EngineMessage): void {
    this.#o.hooks.onDropped(reason, error, this.peer, message);
    this.#fail(error, undefined);
  }

  #deliver(message: EngineMessage): void {
    this.#o.counters.messagesIn++;
    this.traffic.messagesIn++;
    this.#active = true;
    if (this.#parked > 0) {
      this.#held.push(message);
      return;
    }
    this.#deliverNow(message);
  }

  #deliverNow(message: EngineMessage): void {
    try {
      if (this.#o.hooks.onMessage(this, message) === false) {
        // The receiver kept the message but is full: read nothing more from this peer until it has
        // room, so the peer's writes back up to it instead of being dropped here.
        if (this.#parked++ === 0) {
          this.#o.counters.readPauses++;
          this.connection.pause?.();
        }
      }
    } catch (error) {
      // The receiver's bug is not the peer's fault: keep the link.
      this.#o.logger.error({ err: error, peer: this.peer }, 'message sink threw');
    }
  }

  #onAdvert(advert: NodeAdvert): void {
    this.#o.counters.advertsReceived++;
    if (advert.id !== this.peer) {
      this.#fail(
        new ProtocolViolationError(`peer ${this.peer} sent the advert of ${advert.id}`),
        'bad-advert',
      );
      return;
    }
    this.#o.directory.offerNodeAdvert(advert).catch((error: unknown) => {
      const typed = error instanceof Error ? error : new ProtocolViolationError(String(error));
      this.#fail(typed, 'bad-advert');
    });
  }

  // --- handshake ----------------------------------------------------------

  #onHandshakeFrame(tag: number, body: Buffer): void {
    // Handlers are set only by `handshake()`, so a handshake is under way.
    const handshake = this.#handshake as SessionHandshake;
    const outcome = handshake.read(tag, body);
    if (outcome instanceof Error) {
      this.#handshakeFailed(outcome);
      void this.close();
      return;
    }
    this.#opened(handshake, outcome.proto, outcome.peerHoldsOurVersion);
  }

  /** The link is open: send our advert if the peer's copy is stale, start pinging. */
  #opened(handshake: SessionHandshake, proto: number, peerHoldsOurVersion: number): void {
    handshake.disarm();
    this.proto = proto;
    this.#state = 'open';
    this.peerHoldsOurAdvert = handshake.sendAdvertIfStale(peerHoldsOurVersion);
    if (handshake.requestSentAt !== undefined) {
      // The dialer: ConnectRequest to ConnectReply was a round trip, so no ping is needed to know
      // the RTT (a connection used for one exchange then costs no Ping and Pong either way). Told
      // to the directory after the frames of this read are delivered.
      const rtt = now() - handshake.requestSentAt;
      this.rttMs = rtt;
      setImmediate(() => this.#o.directory.recordRtt?.(this.peer, rtt));
      this.#pinger.start(false);
    } else {
      // The listener pings first, a moment after the link opens (see LinkPinger.start).
      this.#pinger.start(true);
    }
    this.#handshake = undefined;
    handshake.opened(this.#o.logger);
  }

  #handshakeFailed(error: Error): void {
    const handshake = this.#handshake;
    handshake?.disarm();
    this.#failure ??= error;
    this.#o.counters.handshakeFailures++;
    this.#handshake = undefined;
    handshake?.failed(error);
  }

  // --- failure and close --------------------------------------------------

  /** Stops reading, reports, and closes (Goodbye first when the link was open). */
  #fail(error: Error, reason: TransportDropReason | undefined): void {
    if (this.#failure !== undefined || this.#state === 'closed') return;
    // Messages still being verified were read after the failure's cause: none is delivered.
    this.#verifier?.stop();
    if (reason !== undefined) this.#o.hooks.onDropped(reason, error, this.peer);
    if (this.#state === 'handshake') {
      this.#handshakeFailed(error);
      this.abort(error);
      return;
    }
    this.#failure = error;
    const code = error instanceof NetmachineError ? error.code : 'ERR_PROTOCOL';
    void this.#close(code, error.message, false);
  }

  #stopTimers(): void {
    this.#handshake?.disarm();
    this.#pinger.stop();
  }

  #onClose(error: Error | undefined): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#stopTimers();
    this.#closer.closed();
    this.#writer.discard();
    const reported = this.#failure ?? error;
    if (this.#handshake !== undefined) {
      this.#handshakeFailed(reported ?? new HandshakeError('connection closed during the handshake'));
    }
    this.#o.hooks.onClosed(this, reported);
  }
}
