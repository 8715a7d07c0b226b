import * as crypto from 'node:crypto';

// A Merkle tree over a batch of event digests, SHA-256. Leaves and inner nodes cannot be confused:
// an inner node hashes exactly 65 bytes starting with 0x00, a leaf hashes an event's signed bytes,
// which start with the layout's version (1) and are longer than 65 bytes. A level of odd width carries
// its last node up unchanged, so a leaf's path holds only the siblings that exist; which levels have
// one follows from the leaf's index and the batch size alone.

export const HASH_BYTES = 32;
/** Largest batch: index and size travel as u16, and a path is at most 12 siblings long. */
export const MAX_BATCH = 4096;

/** One-shot SHA-256 (node ≥ 20.12 has crypto.hash, which makes no Hash object). */
const sha256: (data: Uint8Array) => Buffer =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'buffer')
    : (data) => crypto.createHash('sha256').update(data).digest();

/** The leaf of an event: SHA-256 over its signed bytes. */
export function leafHash(signed: Uint8Array): Buffer {
  return sha256(signed);
}

const scratch = Buffer.alloc(1 + 2 * HASH_BYTES);
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  scratch[0] = 0;
  scratch.set(left, 1);
  scratch.set(right, 1 + HASH_BYTES);
  return sha256(scratch);
}

/** The number of siblings on the path of leaf `index` in a batch of `size`. */
export function pathLength(index: number, size: number): number {
  let length = 0;
  for (let width = size, pos = index; width > 1; width = (width + 1) >> 1, pos >>= 1) {
    if ((pos ^ 1) < width) length++;
  }
  return length;
}

/** Every level of the tree, leaves first, root last (a single node). */
export function buildLevels(leaves: readonly Buffer[]): Buffer[][] {
  if (leaves.length === 0 || leaves.length > MAX_BATCH) throw new RangeError(`batch of ${leaves.length}`);
  const levels: Buffer[][] = [leaves.slice()];
  let level = levels[0] as Buffer[];
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as Buffer;
      const right = level[i + 1];
      next.push(right === undefined ? left : nodeHash(left, right));
    }
    levels.push(next);
    level = next;
  }
  return levels;
}

/** The siblings of leaf `index`, bottom up, concatenated (HASH_BYTES each). */
export function pathOf(levels: readonly Buffer[][], index: number): Buffer {
  const siblings: Buffer[] = [];
  let pos = index;
  for (let l = 0; l < levels.length - 1; l++, pos >>= 1) {
    const sibling = (levels[l] as Buffer[])[pos ^ 1];
    if (sibling !== undefined) siblings.push(sibling);
  }
  return Buffer.concat(siblings);
}

/**
 * Walks from a leaf to the root with the siblings in `path`. `visit(level, pos, hash)` sees every node
 * on the way and each sibling (as `pos ^ 1`); it may return true to stop early (the node is already
 * known), and then the walk returns undefined. Returns the root otherwise.
 */
export function walkPath(
  leaf: Buffer,
  index: number,
  size: number,
  path: Uint8Array,
  visit?: (level: number, pos: number, hash: Buffer, pathOffset: number) => boolean,
): Buffer | undefined {
  let current = leaf;
  let offset = 0;
  let level = 0;
  for (let width = size, pos = index; ; width = (width + 1) >> 1, pos >>= 1, level++) {
    if (visit?.(level, pos, current, offset)) return undefined;
    if (width <= 1) return current;
    if ((pos ^ 1) >= width) continue;
    const sibling = path.subarray(offset, offset + HASH_BYTES);
    offset += HASH_BYTES;
    current = (pos & 1) === 0 ? nodeHash(current, sibling) : nodeHash(sibling, current);
  }
}
