import type { EngineMessage } from './message.js';

/**
 * The holders of one leased buffer: the message it was read for, and whoever took a hold on its
 * bytes (`holdBytes`). The transport gets the buffer back once the last of them lets go.
 */
class BytesLease {
  #holds = 1;
  readonly #release: () => void;
  /** The memory the lease is found by from a view (`holdBytes`), once it is shared. */
  #buffer: ArrayBufferLike | undefined;

  constructor(release: () => void, buffer: ArrayBufferLike | undefined) {
    this.#release = release;
    this.#buffer = buffer;
  }

  /** Makes the lease findable from any view of `buffer` (until it ends). */
  share(buffer: ArrayBufferLike): void {
    if (!this.live || this.#buffer !== undefined) return;
    this.#buffer = buffer;
    leasesByBuffer.set(buffer, this);
  }

  get live(): boolean {
    return this.#holds > 0;
  }

  hold(): () => void {
    this.#holds++;
    let dropped = false;
    return () => {
      if (dropped) return;
      dropped = true;
      this.drop();
    };
  }

  /** The bytes are kept for good: the buffer is never handed back, and no view finds the lease again. */
  keep(): void {
    this.#holds = Number.POSITIVE_INFINITY;
    if (this.#buffer !== undefined && leasesByBuffer.get(this.#buffer) === this)
      leasesByBuffer.delete(this.#buffer);
  }

  drop(): void {
    if (--this.#holds !== 0) return;
    // From here on the buffer may hold another frame: a view of it no longer finds this lease.
    if (this.#buffer !== undefined && leasesByBuffer.get(this.#buffer) === this)
      leasesByBuffer.delete(this.#buffer);
    this.#release();
  }
}

/**
 * Received messages whose bytes (the body's byte arrays, the signature) are views of a buffer the
 * transport would like back: a large frame read into a reused buffer rather than a fresh one. Kept
 * beside the messages rather than on them, so every message keeps one shape.
 */
const leases = new WeakMap<EngineMessage, BytesLease>();
/** The same leases, by the memory the leased bytes lie in (for `holdBytes`). */
const leasesByBuffer = new WeakMap<ArrayBufferLike, BytesLease>();

/**
 * For transports: `release` is called, at most once, when the consumer of `message` hands its
 * bytes back with `releaseMessageBytes` and every hold taken on them (`holdBytes`) has been let go.
 * A consumer that never releases keeps the bytes: the transport then simply does not reuse that
 * buffer.
 */
export function leaseMessageBytes(message: EngineMessage, release: () => void): void {
  leases.set(message, new BytesLease(release, undefined));
}

/**
 * For a consumer that will hand views of a received message's bytes on to others that hold them
 * (`holdBytes`): from now on a view of `bytes`' memory finds the message's lease. Only a consumer
 * that releases its messages should: a lease found by its memory is kept in a table until it ends.
 * Returns false when `message` has no lease (nothing to share).
 */
export function shareMessageBytes(message: EngineMessage, bytes: Uint8Array): boolean {
  const lease = leases.get(message);
  if (lease === undefined) return false;
  lease.share(bytes.buffer);
  return true;
}

/**
 * Opt-in, for a consumer done with a received message: hands the buffer its bytes lie in back to
 * the transport, which may write the next large frame into it. After this call no byte array read
 * from `message` (in its body, at any depth, or its signature) may be used again, except by whoever
 * took a hold on it first (`holdBytes`): copy what must outlive it. Returns true when there was a
 * buffer to hand back; for any other message (local, small, already released) it does nothing and
 * returns false.
 */
export function releaseMessageBytes(message: EngineMessage): boolean {
  const lease = leases.get(message);
  if (lease === undefined) return false;
  leases.delete(message);
  lease.drop();
  return true;
}

/**
 * For a producer that fills `bytes` from a pool of its own and hands views of them on (a cache, a
 * queue to a link): `release` is called, at most once, when the producer has let go (the returned
 * function) and every hold taken on the bytes since (`holdBytes`) has been let go too.
 */
export function leaseBytes(bytes: Uint8Array, release: () => void): () => void {
  const lease = new BytesLease(release, bytes.buffer);
  leasesByBuffer.set(bytes.buffer, lease);
  let dropped = false;
  return () => {
    if (dropped) return;
    dropped = true;
    lease.drop();
  };
}

/**
 * For a consumer that hands views of leased bytes to someone who may keep them for good (a listener
 * that does not borrow): the buffer is never handed back to its transport or producer, and the lease
 * is forgotten (a table entry less until the GC frees the memory). Does nothing for other bytes.
 */
export function keepBytes(bytes: Uint8Array): void {
  leasesByBuffer.get(bytes.buffer)?.keep();
}

/**
 * For a consumer that keeps a view of a received message's bytes after handing the message back
 * (a cache, a send not yet encoded): the buffer is not reused until the returned function is called
 * (once; later calls do nothing). Undefined when `bytes` lie in no leased buffer (a fresh or local
 * one): there is nothing to hold, the GC keeps them alive.
 */
export function holdBytes(bytes: Uint8Array): (() => void) | undefined {
  const lease = leasesByBuffer.get(bytes.buffer);
  return lease?.live === true ? lease.hold() : undefined;
}

/**
 * Bodies that refer to bytes a consumer would like to hand back once they are copied out: a relay
 * passes received sealed bytes on inside a new body, and may free the received frame only once the
 * transport has encoded that body into its own buffers. Keyed by the body object, which the router
 * passes on as it is.
 */
const lentBodies = new WeakMap<object, () => void>();
/** Bodies lent and not yet encoded (a hint only: a body dropped unsent stays counted). */
let lentCount = 0;

/**
 * For a consumer about to send `body`: `release` is called, at most once, when a transport has
 * copied `body` into the frame it writes (not before). A body never encoded (dropped, expired,
 * delivered locally) never calls it: whatever it would free is then simply left to the GC.
 */
export function releaseWhenEncoded(body: object, release: () => void): void {
  lentBodies.set(body, release);
  lentCount++;
}

/**
 * For transports: `body` has been copied into an outgoing frame; calls the release lent with it,
 * if any. Costs a comparison when no body is lent.
 */
export function bodyEncoded(body: unknown): void {
  if (lentCount === 0 || typeof body !== 'object' || body === null) return;
  const release = lentBodies.get(body);
  if (release === undefined) return;
  lentBodies.delete(body);
  lentCount--;
  release();
}
