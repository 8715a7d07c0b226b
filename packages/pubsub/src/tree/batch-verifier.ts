import { KEY_BYTES, SIGNATURE_BYTES, verifySignature } from '@netmachine/core';
import { HASH_BYTES, leafHash, nodeHash } from './merkle.js';
import { BATCH_CONTEXT, type TreeEvent } from './tree-event.js';

export type BatchCheck = 'ok' | 'bad-signature' | 'bad-path';

/** A batch whose root signature verified, with the tree nodes learned from its events' paths. */
interface BatchRecord {
  readonly publisher: Buffer;
  readonly root: Buffer;
  /** (level, position) → hash, for every node proven to be in this tree. */
  readonly nodes: Map<number, Buffer>;
}

const nodeKey = (level: number, pos: number): number => level * 8192 + pos;

export interface BatchVerifierOptions {
  /** Tree nodes remembered over all batches (default 262,144, about 30 MB); the oldest batches go first. */
  readonly maxNodes?: number;
}

/**
 * Checks events against their batch signature, paying one Ed25519 verification per batch: a verified
 * batch is remembered (bounded, oldest evicted) with every tree node its events proved. The next
 * event of that batch hashes its leaf and climbs only until it meets a proven node (usually one or
 * two hashes), then its remaining path must equal the proven siblings byte for byte — so an event
 * that passes can be forwarded as it came, and the next node will reach the same root.
 */
export class BatchVerifier {
  readonly #records = new Map<string, BatchRecord>();
  readonly #maxNodes: number;
  #nodes = 0;
  /** Ed25519 verifications done (one per new batch), and events that met a remembered batch. */
  signatureChecks = 0;
  cacheHits = 0;

  constructor(options: BatchVerifierOptions = {}) {
    this.#maxNodes = options.maxNodes ?? 262_144;
  }

  check(event: TreeEvent): BatchCheck {
    const { bytes, size, index, signedEnd } = event;
    const sigKey = bytes.toString('latin1', signedEnd, signedEnd + SIGNATURE_BYTES);
    const record = this.#records.get(sigKey);
    if (record !== undefined && bytes.compare(record.publisher, 0, KEY_BYTES, 33, 65) !== 0)
      return 'bad-signature';
    // Climb from the leaf; `learned` holds (key, hash) pairs proven once the climb ends at a proven node
    // or at a root whose signature verifies.
    const learned: (number | Buffer)[] = [];
    let current = leafHash(bytes.subarray(0, signedEnd));
    let offset = event.pathStart;
    let level = 0;
    let width = size;
    let pos = index;
    for (; ; width = (width + 1) >> 1, pos >>= 1, level++) {
      if (record !== undefined) {
        const known = record.nodes.get(nodeKey(level, pos));
        if (known !== undefined) {
          if (!known.equals(current)) return 'bad-signature';
          if (!restMatches(record, bytes, width, level, pos, offset)) return 'bad-path';
          this.cacheHits++;
          this.#learn(record, learned);
          return 'ok';
        }
      }
      learned.push(nodeKey(level, pos), current);
      if (width <= 1) break;
      if ((pos ^ 1) >= width) continue;
      const sibling = bytes.subarray(offset, offset + HASH_BYTES);
      offset += HASH_BYTES;
      learned.push(nodeKey(level, pos ^ 1), sibling);
      current = (pos & 1) === 0 ? nodeHash(current, sibling) : nodeHash(sibling, current);
    }
    if (record !== undefined) {
      // A root other than the one signed: the signature does not cover this event.
      if (!current.equals(record.root)) return 'bad-signature';
      this.#learn(record, learned);
      return 'ok';
    }
    this.signatureChecks++;
    if (!verifySignature(event.publisher, Buffer.concat([BATCH_CONTEXT, current]), event.signature))
      return 'bad-signature';
    const fresh: BatchRecord = {
      publisher: Buffer.from(event.publisher),
      root: current,
      nodes: new Map(),
    };
    this.#records.set(sigKey, fresh);
    this.#learn(fresh, learned);
    return 'ok';
  }

  /** Batches remembered now. */
  get batches(): number {
    return this.#records.size;
  }

  #learn(record: BatchRecord, learned: (number | Buffer)[]): void {
    for (let i = 0; i < learned.length; i += 2) {
      const key = learned[i] as number;
      if (record.nodes.has(key)) continue;
      const hash = learned[i + 1] as Buffer;
      // Path siblings are copied: the cache must not pin the event's buffer.
      record.nodes.set(key, hash.buffer.byteLength === HASH_BYTES ? hash : Buffer.from(hash));
      this.#nodes++;
    }
    this.#trim();
  }

  #trim(): void {
    while (this.#nodes > this.#maxNodes && this.#records.size > 1) {
      const [oldest, record] = this.#records.entries().next().value as [string, BatchRecord];
      this.#records.delete(oldest);
      this.#nodes -= record.nodes.size;
    }
  }
}

/** From a proven node at (level, pos) up, the event's remaining siblings equal the proven ones. */
function restMatches(
  record: BatchRecord,
  path: Buffer,
  width: number,
  level: number,
  pos: number,
  offset: number,
): boolean {
  for (let w = width, l = level, p = pos, o = offset; w > 1; w = (w + 1) >> 1, p >>= 1, l++) {
    if ((p ^ 1) >= w) continue;
    const known = record.nodes.get(nodeKey(l, p ^ 1));
    if (known === undefined || path.compare(known, 0, HASH_BYTES, o, o + HASH_BYTES) !== 0) return false;
    o += HASH_BYTES;
  }
  return true;
}
