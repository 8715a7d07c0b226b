/**
 * Byte arrays whose owner promises never to change them again, nor to hand their memory back to a
 * pool: a transport may then write them to its sockets as they are, without first copying them into
 * its own buffers, and several links may write the same array. A large payload sent to many peers
 * (one batch pushed along every tree link) is then copied by none of them. Keyed by the array object:
 * another view of the same memory is not marked.
 */
const immutable = new WeakSet<Uint8Array>();

/**
 * Promises that `bytes` will not change and that their memory is not reused while anything may still
 * refer to them (the GC keeps them alive for as long as a socket does). Returns `bytes`.
 */
export function markBytesImmutable<B extends Uint8Array>(bytes: B): B {
  immutable.add(bytes);
  return bytes;
}

/** Whether `bytes` were marked with `markBytesImmutable`. */
export function areBytesImmutable(bytes: Uint8Array): boolean {
  return immutable.has(bytes);
}
