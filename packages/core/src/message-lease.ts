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
