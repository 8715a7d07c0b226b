import { ConnectionClosedError, type NodeDirectory, type NodeId } from '@netmachine/core';
import type { FrameWriter } from './frame-writer.js';
import type { SessionLimits } from './session-options.js';
import { encodeFrame } from './wire/frame-codec.js';
import { FrameTag } from './wire/frames.js';

// Pings on an open link, apart from the session: they run on a timer and answer a Pong every ping
// interval, never per message, and keep both the RTT and the liveness check in one place.

/** The listener's first ping, this long after the link opens (see `start`). */
const FIRST_PING_DELAY_MS = 50;

const now = (): number => performance.now();

/** The session as its pinger sees it. */
export interface PingedLink {
  readonly peer: NodeId;
  readonly state: 'handshake' | 'open' | 'closing' | 'closed';
  /** Last measured round-trip time in ms: set on each answered ping. */
  rttMs: number | undefined;
  abort(error: Error): void;
}

/**
 * Measures a link's RTT with Ping and Pong, and aborts a link whose peer leaves a ping unanswered
 * for `pingTimeoutMs` (a dead or black-holed peer). One ping in flight at a time.
 */
export class LinkPinger {
  readonly #link: PingedLink;
  readonly #writer: FrameWriter;
  readonly #directory: NodeDirectory;
  readonly #limits: SessionLimits;
  #timer: NodeJS.Timeout | undefined;
  #sentAt: number | undefined;

  constructor(link: PingedLink, writer: FrameWriter, directory: NodeDirectory, limits: SessionLimits) {
    this.#link = link;
    this.#writer = writer;
    this.#directory = directory;
    this.#limits = limits;
  }

  /**
   * Starts pinging once the link is open. `firstSoon`: the listener, which knows no RTT yet, pings
   * first a moment after the link opens: a connection used for one exchange and closed costs no
   * Ping and Pong (a write and a read on each side), and a lasting one knows its RTT within that
   * moment. Then (and from the start for the dialer, whose handshake gave the RTT) every interval.
   */
  start(firstSoon: boolean): void {
    if (!firstSoon) {
      this.#timer = setInterval(() => this.#ping(), this.#limits.pingIntervalMs);
    } else {
      this.#timer = setTimeout(() => {
        this.#ping();
        if (this.#link.state !== 'open') return;
        this.#timer = setInterval(() => this.#ping(), this.#limits.pingIntervalMs);
        this.#timer.unref();
      }, FIRST_PING_DELAY_MS);
    }
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** The peer's Pong: the answer to our ping in flight gives the RTT (any other is ignored). */
  onPong(value: number): void {
    if (this.#sentAt === undefined || value !== Math.floor(this.#sentAt)) return;
    const rtt = now() - this.#sentAt;
    this.#sentAt = undefined;
    this.#link.rttMs = rtt;
    this.#directory.recordRtt?.(this.#link.peer, rtt);
  }

  #ping(): void {
    if (this.#link.state !== 'open') return;
    if (this.#sentAt !== undefined) {
      if (now() - this.#sentAt > this.#limits.pingTimeoutMs) {
        this.#link.abort(new ConnectionClosedError(`peer ${this.#link.peer} stopped answering pings`));
      }
      return;
    }
    this.#sentAt = now();
    this.#writer.enqueue(encodeFrame(FrameTag.Ping, Math.floor(this.#sentAt)));
  }
}
