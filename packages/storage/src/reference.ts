import { InvalidReferenceError } from './errors.js';
import { CHUNK_ID_BYTES, CHUNK_KEY_BYTES } from './hashing.js';

/**
 * The capability to read an object: the id of its root chunk (where to find it) and the root's key
 * (how to read it). Whoever holds it can fetch and decrypt the whole tree; storing nodes never see it.
 */
export interface ObjectReference {
  readonly root: Uint8Array;
  readonly key: Uint8Array;
}

const REFERENCE_PREFIX = 'nmref1.';
const REFERENCE_BYTES = CHUNK_ID_BYTES + CHUNK_KEY_BYTES;

/** One pasteable line: `nmref1.` + base64url(root id ‖ root key). */
export function formatReference(reference: ObjectReference): string {
  return REFERENCE_PREFIX + Buffer.concat([reference.root, reference.key]).toString('base64url');
}

export function parseReference(text: string): ObjectReference {
  const trimmed = typeof text === 'string' ? text.trim() : '';
  if (!trimmed.startsWith(REFERENCE_PREFIX)) {
    throw new InvalidReferenceError(`a reference starts with ${REFERENCE_PREFIX}`);
  }
  const body = trimmed.slice(REFERENCE_PREFIX.length);
  if (!/^[A-Za-z0-9_-]{86}$/.test(body))
    throw new InvalidReferenceError('expected 86 characters of base64url');
  const bytes = Buffer.from(body, 'base64url');
  if (bytes.length !== REFERENCE_BYTES) throw new InvalidReferenceError(`expected ${REFERENCE_BYTES} bytes`);
  return {
    root: new Uint8Array(bytes.subarray(0, CHUNK_ID_BYTES)),
    key: new Uint8Array(bytes.subarray(CHUNK_ID_BYTES)),
  };
}
