import { type EngineMessage, type NodeId, releaseMessageBytes } from '@netmachine/core';
import { decodeMessageAt, FrameTag, LinkAddresses } from '@netmachine/transport/wire';
import { MalformedRelayMessageError, RelayEnvelopeMismatchError } from './errors.js';
import { RelayOpener } from './relay-opener.js';
import type { RelayPaths } from './relay-paths.js';
import { recordBounds } from './sealed-format.js';
import type { RelayContext, RelayCounters, RelayOptions } from './service-types.js';

/** Sources whose engine addresses are kept. */
const MAX_SOURCES = 256;

/**
 * As a destination: opens what came through a relay, checks each inner message against the sealed
 * envelope and delivers it, waiting for room when the receiving engine is full.
 */
export class RelayedReceiver {
  readonly #c: Pick<RelayContext, 'node' | 'logger' | 'relayPath'>;
  readonly #opener: RelayOpener;
  readonly #paths: RelayPaths;
  readonly #counters: RelayCounters;
  /** The engine addresses of each source's messages, made once per name (as a link's are). */
  readonly #addresses = new Map<NodeId, LinkAddresses>();
  #roomParked = 0;
  #roomWaiter: (() => void) | undefined;

  constructor(
    context: Pick<RelayContext, 'node' | 'keyPair' | 'logger' | 'relayPath'>,
    options: Pick<RelayOptions, 'sealing'>,
    paths: RelayPaths,
    counters: RelayCounters,
  ) {
    this.#c = context;
    this.#opener = new RelayOpener(context.keyPair, options.sealing);
    this.#paths = paths;
    this.#counters = counters;
  }

  get sessionsOpened(): number {
    return this.#opener.sessionsOpened;
  }

  /** A wait for room in progress ends now (the service stops), so the mailbox can stop. */
  release(): void {
    this.#roomParked = 1;
    this.#onRoom();
  }

  /**
   * As a destination: opens, checks and delivers a message that came through relay `via`. When the
   * receiving engine is full, the relay engine waits for room (so reading from the relay pauses).
   * `received` is the message the sealed bytes came in: once they are decrypted (into a buffer of
   * their own) nothing refers to them, so its frame buffer goes back to the transport.
   */
  open(
    via: NodeId,
    source: NodeId,
    expiry: number,
    sealed: Uint8Array,
    received: EngineMessage,
  ): undefined | Promise<void> {
    let plaintext: Buffer;
    let spans: readonly number[];
    try {
      plaintext = this.#opener.openPlaintext(source, sealed, expiry);
      spans = recordBounds(plaintext);
    } catch (error) {
      this.#openFailed(error, source, via);
      return;
    } finally {
      releaseMessageBytes(received);
    }
    if (via !== source) this.#paths.learnReturnPath(source, via);
    const addresses = this.#addressesOf(source);
    this.#roomParked = 0;
    for (let i = 0; i < spans.length; i += 2) {
      const start = spans[i] as number;
      let inner: EngineMessage;
      try {
        // Each record is a link's Message frame (tag, then the message), decoded where it lies, as a
        // link decodes it.
        if (plaintext[start] !== FrameTag.Message) throw new MalformedRelayMessageError('inner record type');
        inner = decodeMessageAt(plaintext, start + 1, spans[i + 1] as number, addresses);
        if (inner.expiry !== undefined && inner.expiry > expiry) {
          throw new RelayEnvelopeMismatchError('inner expiry later than the sealed one');
        }
      } catch (error) {
        this.#openFailed(error, source, via);
        continue;
      }
      this.#counters.opened++;
      // A full receiver keeps the message and calls onRoom once for it later.
      if (this.#c.relayPath.deliverRelayed(inner, this.#onRoom) === false) this.#roomParked++;
    }
    if (this.#roomParked <= 0) return;
    return new Promise((resolve) => {
      this.#roomWaiter = resolve;
    });
  }

  #addressesOf(source: NodeId): LinkAddresses {
    let addresses = this.#addresses.get(source);
    if (addresses === undefined) {
      // Bounded: a node hears from a few sources at a time; starting again costs one object per name.
      if (this.#addresses.size >= MAX_SOURCES) this.#addresses.clear();
      addresses = new LinkAddresses(source, this.#c.node);
      this.#addresses.set(source, addresses);
    }
    return addresses;
  }

  #openFailed(error: unknown, source: NodeId, via: NodeId): void {
    const name = (error as Error).name ?? 'Error';
    this.#counters.openFailed[name] = (this.#counters.openFailed[name] ?? 0) + 1;
    this.#c.logger.debug({ source, relay: via, err: error }, 'relayed message refused');
  }

  /**
   * A receiver that was full has room for one of the messages it kept; once all have it, the relay
   * engine goes on (one RelayMessage at a time: the mailbox runs in order).
   */
  readonly #onRoom = (): void => {
    if (--this.#roomParked > 0) return;
    const waiter = this.#roomWaiter;
    this.#roomWaiter = undefined;
    waiter?.();
  };
}
