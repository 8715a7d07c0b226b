import { type EngineMessage, type NodeId, releaseMessageBytes } from '@netmachine/core';
import { decodeMessageAt, FrameTag, LinkAddresses } from '@netmachine/transport/wire';
import { MalformedRelayMessageError, RelayEnvelopeMismatchError } from './errors.js';
import { RelayOpener } from './relay-opener.js';
import type { RelayPaths } from './relay-paths.js';
import { recordBounds } from './sealed-format.js';
import type { RelayContext, RelayCounters, RelayOptions } from './service-types.js';

/** A batch opened and partly delivered: the receiving engine was full. */
interface HeldBatch {
  readonly plaintext: Buffer;
  readonly spans: readonly number[];
  /** Index into `spans` of the next message to deliver. */
  next: number;
  readonly expiry: number;
  readonly source: NodeId;
  readonly via: NodeId;
  readonly addresses: LinkAddresses;
}

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
  /** The batch whose messages wait for room in the receiving engine, and where they go on. */
  #held: HeldBatch | undefined;
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
    this.#held = undefined;
    this.#wake();
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
    const batch: HeldBatch = {
      plaintext,
      spans,
      next: 0,
      expiry,
      source,
      via,
      addresses: this.#addressesOf(source),
    };
    if (this.#deliverFrom(batch)) return;
    // The receiving engine is full: it keeps the message it was just given and says when it has
    // room; the rest of the batch waits here, in order, and the relay engine with it (its mailbox
    // fills and reading from the relay pauses, as a link's reading would).
    // The spans are a shared array the next plaintext's bounds are read into: the held batch keeps a copy.
    this.#held = { ...batch, spans: spans.slice() };
    return new Promise((resolve) => {
      this.#roomWaiter = resolve;
    });
  }

  /**
   * Delivers the batch's messages from `batch.next` on, one at a time; false once the receiving
   * engine is full (the message it was given is kept; `#onRoom` goes on from the next).
   */
  #deliverFrom(batch: HeldBatch): boolean {
    const { plaintext, spans, addresses, expiry, source, via } = batch;
    while (batch.next < spans.length) {
      const start = spans[batch.next] as number;
      const end = spans[batch.next + 1] as number;
      batch.next += 2;
      let inner: EngineMessage;
      try {
        // Each record is a link's Message frame (tag, then the message), decoded where it lies, as a
        // link decodes it.
        if (plaintext[start] !== FrameTag.Message) throw new MalformedRelayMessageError('inner record type');
        inner = decodeMessageAt(plaintext, start + 1, end, addresses);
        if (inner.expiry !== undefined && inner.expiry > expiry) {
          throw new RelayEnvelopeMismatchError('inner expiry later than the sealed one');
        }
      } catch (error) {
        this.#openFailed(error, source, via);
        continue;
      }
      this.#counters.opened++;
      if (this.#c.relayPath.deliverRelayed(inner, this.#onRoom) === false) return false;
    }
    return true;
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

  /** The receiving engine took the message it kept: the held batch goes on, and when it is all delivered, the relay engine. */
  readonly #onRoom = (): void => {
    const batch = this.#held;
    if (batch === undefined || !this.#deliverFrom(batch)) return;
    this.#held = undefined;
    this.#wake();
  };

  #wake(): void {
    const waiter = this.#roomWaiter;
    this.#roomWaiter = undefined;
    waiter?.();
  }
}
