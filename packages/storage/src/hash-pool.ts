import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * The worker side, as plain JavaScript run with `eval`, so it works the same whether the package runs
 * from its sources or its build. It loads hash-wasm from the path the parent resolved, hashes the
 * first `length` bytes of each buffer it is sent, and sends the buffer back with the id (both
 * transferred, so the parent reuses the buffer for the next chunk).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ready = require(workerData.hashWasm).createBLAKE3(256);
parentPort.on('message', ({ job, buffer, length }) => {
  ready.then((hasher) => {
    hasher.init();
    hasher.update(new Uint8Array(buffer, 0, length));
    const id = hasher.digest('binary');
    parentPort.postMessage({ job, buffer, id }, [buffer, id.buffer]);
  });
});
`;

/** Buffers kept for reuse once their chunk is hashed; more in flight are allocated and dropped. */
const MAX_SPARE_BUFFERS = 16;

interface Job {
  readonly worker: PoolWorker;
  readonly resolve: (id: Uint8Array) => void;
  readonly reject: (error: Error) => void;
}

interface PoolWorker {
  readonly thread: Worker;
  pending: number;
}

/** The pool was closed, or a worker failed: the caller hashes in line instead. */
export class HashPoolClosedError extends Error {
  override readonly name = 'HashPoolClosedError';
}

/**
 * BLAKE3 chunk ids computed on worker threads, so a fetch checks every chunk it receives without
 * spending its event loop on hashing (a quarter to a third of it at 1 MiB chunks): the
 * event loop reads, stores and asks for more while another core hashes. Each chunk is copied into a
 * buffer that is transferred to a worker and back (then reused), so the caller's bytes are never
 * shared with another thread. Jobs go to the worker with the fewest pending; callers bound how many
 * they have in flight (a fetch has at most its concurrency).
 */
export class HashPool {
  readonly threads: number;
  readonly #workers: PoolWorker[] = [];
  readonly #jobs = new Map<number, Job>();
  readonly #spare: ArrayBuffer[] = [];
  #nextJob = 0;
  #closed = false;

  constructor(threads: number) {
    this.threads = Math.max(1, Math.floor(threads));
  }

  /** The chunk id of `bytes`; rejects with HashPoolClosedError once the pool is closed or broken. */
  chunkId(bytes: Uint8Array): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new HashPoolClosedError('hash pool closed'));
    const buffer = this.#buffer(bytes.length);
    new Uint8Array(buffer, 0, bytes.length).set(bytes);
    const worker = this.#leastBusy();
    const job = this.#nextJob++;
    worker.pending++;
    return new Promise<Uint8Array>((resolve, reject) => {
      this.#jobs.set(job, { worker, resolve, reject });
      worker.thread.postMessage({ job, buffer, length: bytes.length }, [buffer]);
    });
  }

  /** Stops the workers; jobs still out are rejected. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#failAll(new HashPoolClosedError('hash pool closed'));
    this.#spare.length = 0;
    await Promise.all(this.#workers.splice(0).map((worker) => worker.thread.terminate()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #buffer(length: number): ArrayBuffer {
    for (let i = this.#spare.length - 1; i >= 0; i--) {
      const buffer = this.#spare[i]!;
      if (buffer.byteLength >= length) {
        this.#spare.splice(i, 1);
        return buffer;
      }
    }
    return new ArrayBuffer(length);
  }

  /** The worker with the fewest jobs pending, started on first use (a pool that hashes nothing holds no thread). */
  #leastBusy(): PoolWorker {
    let best: PoolWorker | undefined;
    for (const worker of this.#workers)
      if (best === undefined || worker.pending < best.pending) best = worker;
    if (best !== undefined && (best.pending === 0 || this.#workers.length >= this.threads)) return best;
    const thread = new Worker(WORKER_SOURCE, { eval: true, workerData: { hashWasm: hashWasmPath() } });
    thread.unref();
    const worker: PoolWorker = { thread, pending: 0 };
    thread.on('message', ({ job, buffer, id }: { job: number; buffer: ArrayBuffer; id: Uint8Array }) => {
      const pending = this.#jobs.get(job);
      this.#jobs.delete(job);
      worker.pending--;
      if (!this.#closed && this.#spare.length < MAX_SPARE_BUFFERS) this.#spare.push(buffer);
      pending?.resolve(id);
    });
    thread.on('error', (error) => {
      this.#closed = true;
      this.#failAll(new HashPoolClosedError('hash worker failed', { cause: error }));
    });
    this.#workers.push(worker);
    return worker;
  }

  #failAll(error: Error): void {
    for (const job of this.#jobs.values()) job.reject(error);
    this.#jobs.clear();
  }
}

let hashWasmModule: string | undefined;

/** hash-wasm's entry as a path the worker can require (it resolves nothing itself). */
function hashWasmPath(): string {
  hashWasmModule ??= createRequire(import.meta.url).resolve('hash-wasm');
  return hashWasmModule;
}
