import type { EngineMessage } from './message.js';

/**
 * Received messages whose bytes (the body's byte arrays, the signature) are views of a buffer the
 * transport would like back: a large frame read into a reused buffer rather than a fresh one. Kept
 * beside the messages rather than on them, so every message keeps one shape.
 */
const leases = new WeakMap<EngineMessage, () => void>();

/**
 * For transports: `release` is called, at most once, when the consumer of `message` hands its
 * bytes back with `releaseMessageBytes`. A consumer that never does keeps them: the transport then
 * simply does not reuse that buffer.
 */
export function leaseMessageBytes(message: EngineMessage, release: () => void): void {
  leases.set(message, release);
}

/**
 * Opt-in, for a consumer done with a received message: hands the buffer its bytes lie in back to
 * the transport, which may write the next large frame into it. After this call no byte array read
 * from `message` (in its body, at any depth, or its signature) may be used again: copy what must
 * outlive it first. Returns true when there was a buffer to hand back; for any other message
 * (local, small, already released) it does nothing and returns false.
 */
export function releaseMessageBytes(message: EngineMessage): boolean {
  const release = leases.get(message);
  if (release === undefined) return false;
  leases.delete(message);
  release();
  return true;
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
