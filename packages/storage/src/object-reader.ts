import { AbortedError, SchemaError } from '@netmachine/core';
import type { BlockStore } from './block-store.js';
import { ChunkKind, type ParsedChunk, parseChunk } from './chunk-format.js';
import type { ChildEntry, ConvergentCodec } from './convergent.js';
import { ChunkNotFoundError } from './errors.js';
import { chunkIdText } from './hashing.js';
import type { ProgressCallback } from './progress.js';
import type { ObjectReference } from './reference.js';

export interface ReadObjectOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressCallback;
}

function loadChunk(store: BlockStore, id: Uint8Array): ParsedChunk {
  const bytes = store.get(id);
  if (bytes === undefined) throw new ChunkNotFoundError(chunkIdText(id));
  return parseChunk(bytes);
}

/** The plaintext size of an object held in the local store (reads only its root). */
export function objectSize(store: BlockStore, codec: ConvergentCodec, reference: ObjectReference): number {
  const root = loadChunk(store, reference.root);
  if (root.kind === ChunkKind.Leaf) return codec.openLeaf(reference.key, root, true).length;
  return codec.openInternal(reference.key, root).reduce((sum, child) => sum + child.size, 0);
}

/**
 * Streams an object's plaintext from the local store, in order, depth first: memory holds one
 * internal chunk per level plus the leaf being yielded. Every chunk is re-hashed on read (by the
 * store); each declared subtree size is checked against what is found, so a malformed tree fails
 * with SchemaError rather than producing wrong output. A missing chunk fails with ChunkNotFoundError
 * (fetch the object from peers first).
 */
export async function* readObject(
  store: BlockStore,
  codec: ConvergentCodec,
  reference: ObjectReference,
  options: ReadObjectOptions = {},
): AsyncGenerator<Uint8Array> {
  const { signal, onProgress } = options;
  signal?.throwIfAborted();
  const root = loadChunk(store, reference.root);
  if (root.kind === ChunkKind.Leaf) {
    const plaintext = codec.openLeaf(reference.key, root, true);
    onProgress?.({ bytes: plaintext.length, totalBytes: plaintext.length });
    yield plaintext;
    return;
  }
  const rootChildren = codec.openInternal(reference.key, root);
  const totalBytes = rootChildren.reduce((sum, child) => sum + child.size, 0);
  const stack: Array<{ children: ChildEntry[]; next: number }> = [{ children: rootChildren, next: 0 }];
  let bytes = 0;
  onProgress?.({ bytes, totalBytes });
  while (stack.length > 0) {
    if (signal?.aborted) throw new AbortedError(signal.reason);
    const frame = stack[stack.length - 1]!;
    const child = frame.children[frame.next++];
    if (child === undefined) {
      stack.pop();
      continue;
    }
    const chunk = loadChunk(store, child.id);
    if (chunk.kind === ChunkKind.Internal) {
      const children = codec.openInternal(child.key, chunk);
      const size = children.reduce((sum, c) => sum + c.size, 0);
      if (size !== child.size)
        throw new SchemaError('tree.size', `subtree holds ${size}, parent says ${child.size}`);
      stack.push({ children, next: 0 });
      continue;
    }
    const plaintext = codec.openLeaf(child.key, chunk);
    if (plaintext.length !== child.size) {
      throw new SchemaError('tree.size', `leaf holds ${plaintext.length}, parent says ${child.size}`);
    }
    bytes += plaintext.length;
    onProgress?.({ bytes, totalBytes });
    yield plaintext;
  }
}

/**
 * Every chunk of an object's tree held locally, with its verified bytes, parents before children
 * (for replication). Holds one list of child ids per level being walked.
 */
export function* treeChunks(
  store: BlockStore,
  rootId: Uint8Array,
): Generator<{ id: Uint8Array; bytes: Uint8Array }> {
  const stack: Array<{ ids: readonly Uint8Array[]; next: number }> = [{ ids: [rootId], next: 0 }];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    const id = frame.ids[frame.next++];
    if (id === undefined) {
      stack.pop();
      continue;
    }
    const bytes = store.get(id);
    if (bytes === undefined) throw new ChunkNotFoundError(chunkIdText(id));
    yield { id, bytes };
    const chunk = parseChunk(bytes);
    if (chunk.kind === ChunkKind.Internal) stack.push({ ids: chunk.children, next: 0 });
  }
}
