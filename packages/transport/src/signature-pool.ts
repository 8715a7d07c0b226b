import { Worker } from 'node:worker_threads';

/**
 * The worker side, as plain JavaScript run with `eval`: it needs node:crypto only, and works the same
 * whether the package runs from its sources or its build. A batch is one transferred buffer of
 * records `[u32 data length][data][64-byte signature][32-byte Ed25519 key]`; the answer is one byte
 * per record (1 = valid). Key objects are cached: a link's messages share a handful of signers.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const keys = new Map();
function keyOf(raw) {
  const id = raw.toString('latin1');
  let key = keys.get(id);
  if (key === undefined) {
    if (keys.size >= 1024) keys.clear();
    key = createPublicKey({ key: Buffer.concat([SPKI, raw]), format: 'der', type: 'spki' });
    keys.set(id, key);
  }
  return key;
}
parentPort.on('message', ({ id, count, buffer }) => {
  const b = Buffer.from(buffer);
  const results = new Uint8Array(count);
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const length = b.readUInt32BE(pos);
    const data = b.subarray(pos + 4, pos + 4 + length);
    const sig = b.subarray(pos + 4 + length, pos + 68 + length);
    const key = b.subarray(pos + 68 + length, pos + 100 + length);
    pos += 100 + length;
    try {
      results[i] = verify(null, data, keyOf(key), sig) ? 1 : 0;
    } catch {
      results[i] = 0;
    }
  }
  parentPort.postMessage({ id, results }, [results.buffer]);
});
`;

const SIGNATURE_BYTES = 64;
const KEY_BYTES = 32;

/** One signature to check: the signed bytes, the signature, the signer's raw Ed25519 key. */
export interface SignatureCheck {
  readonly data: Uint8Array;
  readonly signature: Uint8Array;
  readonly key: Uint8Array;
}

interface Pending {
  readonly resolve: (results: Uint8Array) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Ed25519 verification on worker threads, for strict mode: a node verifying every message it
 * receives is bound by one core's verify rate on its event loop; spread over `threads` workers it
 * scales with the cores. Batches go to the workers in turn; each `verify` resolves with one result
 * per check, in order. The callers bound how much they have in flight (see InboundVerifier).
 */
export class SignaturePool {
  readonly threads: number;
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #next = 0;
  #closed = false;

  constructor(threads: number) {
    this.threads = Math.max(1, Math.floor(threads));
  }

  /** Checks a batch; false for a malformed signature or key as for a wrong one. */
  verify(checks: readonly SignatureCheck[]): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new Error('signature pool closed'));
    let bytes = 0;
    for (const check of checks) bytes += 4 + check.data.length + SIGNATURE_BYTES + KEY_BYTES;
    const buffer = Buffer.alloc(bytes);
    const valid = new Uint8Array(checks.length).fill(1);
    let pos = 0;
    checks.forEach((check, index) => {
      // Wrong lengths cannot be valid: sent as zeros (which fail), marked invalid here.
      if (check.signature.length !== SIGNATURE_BYTES || check.key.length !== KEY_BYTES) valid[index] = 0;
      buffer.writeUInt32BE(check.data.length, pos);
      buffer.set(check.data, pos + 4);
      pos += 4 + check.data.length;
      if (valid[index] === 1) {
        buffer.set(check.signature, pos);
        buffer.set(check.key, pos + SIGNATURE_BYTES);
      }
      pos += SIGNATURE_BYTES + KEY_BYTES;
    });
    const id = this.#nextId++;
    const worker = this.#worker();
    return new Promise<Uint8Array>((resolve, reject) => {
      this.#pending.set(id, {
        resolve: (results) => {
          for (let i = 0; i < results.length; i++) results[i] = (results[i] as number) & (valid[i] as number);
          resolve(results);
        },
        reject,
      });
      worker.postMessage({ id, count: checks.length, buffer: buffer.buffer }, [buffer.buffer as ArrayBuffer]);
    });
  }

  /** Stops the workers; batches still out are rejected. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const error = new Error('signature pool closed');
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
    await Promise.all(this.#workers.splice(0).map((worker) => worker.terminate()));
  }

  /** The next worker in turn, started on first use (an idle strict node holds no threads). */
  #worker(): Worker {
    const index = this.#next++ % this.threads;
    let worker = this.#workers[index];
    if (worker === undefined) {
      worker = new Worker(WORKER_SOURCE, { eval: true });
      worker.unref();
      worker.on('message', ({ id, results }: { id: number; results: Uint8Array }) => {
        const pending = this.#pending.get(id);
        this.#pending.delete(id);
        pending?.resolve(results);
      });
      worker.on('error', (error) => this.#failAll(error));
      this.#workers[index] = worker;
    }
    return worker;
  }

  #failAll(error: Error): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}
