import { type Connection, ConnectionClosedError } from '@netmachine/core';
import { encodeFrame } from './wire/frame-codec.js';
import { encodeGoodbye, FrameTag } from './wire/frames.js';

// The end of a session's connection, apart from the session: it runs once per connection, so none
// of it sits on the per-frame path; the session keeps the state the hot path reads.

/**
 * Goodbye frames without a reason, by code: a node closes with a handful of codes (`disconnect`,
 * `idle`, `duplicate`, …), and encoding one per close is work a short connection need not repeat.
 * The slab copies the frame, so one buffer serves every session.
 */
const plainGoodbyes = new Map<string, Buffer>();
const MAX_PLAIN_GOODBYES = 32;

export function goodbyeFrame(code: string, reason: string): Buffer {
  const encode = (): Buffer =>
    encodeFrame(FrameTag.Goodbye, encodeGoodbye({ code: code.slice(0, 64), reason: reason.slice(0, 200) }));
  if (reason !== '') return encode();
  let frame = plainGoodbyes.get(code);
  if (frame === undefined) {
    frame = encode();
    if (plainGoodbyes.size < MAX_PLAIN_GOODBYES) plainGoodbyes.set(code, frame);
  }
  return frame;
}

/**
 * Closes a session's connection once the session has said what it had to: at once, or after the
 * peer's answer to our Goodbye (at most `closeTimeoutMs`), and cuts off a peer that does not let
 * the close finish within `closeTimeoutMs` either.
 */
export class LinkCloser {
  readonly #connection: Connection;
  readonly #timeoutMs: number;
  #promise: Promise<void> | undefined;
  #resolve: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Our side of the connection is closing (`connection.close()` called). */
  #closingConnection = false;

  constructor(connection: Connection, closeTimeoutMs: number) {
    this.#connection = connection;
    this.#timeoutMs = closeTimeoutMs;
  }

  /** The close under way (resolves when the connection is closed), or undefined before it begins. */
  get promise(): Promise<void> | undefined {
    return this.#promise;
  }

  /** Begins the close. `waitForPeer`: our side closes on the peer's Goodbye, or after the timeout. */
  begin(waitForPeer: boolean): Promise<void> {
    const promise = new Promise<void>((resolve) => {
      this.#resolve = resolve;
    });
    this.#promise = promise;
    if (waitForPeer) {
      this.#timer = setTimeout(() => this.closeConnection(), this.#timeoutMs);
    } else this.closeConnection();
    return promise;
  }

  /** Closes our side gracefully; a peer that does not let it finish is cut off. */
  closeConnection(): void {
    if (this.#closingConnection) return;
    this.#closingConnection = true;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => this.#connection.abort(new ConnectionClosedError('close timed out')),
      this.#timeoutMs,
    );
    this.#connection.close().catch(() => {});
  }

  /** The connection is closed: the close resolves and no timer is left. */
  closed(): void {
    clearTimeout(this.#timer);
    this.#resolve?.();
  }
}
