import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type ControlMessage, type ErrorMessage, Inbox, type RunMessage } from './messages.js';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
/**
 * `pnpm bench` builds the packages and this harness first and sets BENCH_DIST=1: workers then run
 * tsc's output with plain node and load netmachine as users get it from npm, so no TypeScript loader
 * (about 30 MB of RSS) sits in the processes measured. Without it (the harness tests under vitest)
 * workers run the TypeScript sources through tsx, so no build is needed.
 */
const WORKER = process.env.BENCH_DIST
  ? fileURLToPath(new URL('../../dist/process/worker.js', import.meta.url))
  : fileURLToPath(new URL('./worker.ts', import.meta.url));
const WORKER_FLAGS = process.env.BENCH_DIST ? [] : ['--conditions=@netmachine/source', '--import', 'tsx'];
const STDERR_TAIL = 4096;
const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * A worker process playing one role in one run. Each run gets fresh processes, so no run inherits a
 * warm JIT, a grown heap or open sockets from the one before.
 */
export class Child {
  readonly label: string;
  readonly #process: ChildProcess;
  readonly #inbox = new Inbox();
  readonly #exited: Promise<void>;
  #stderr = '';

  private constructor(label: string, role: string, params: unknown, flags: readonly string[]) {
    this.label = label;
    // Extra node flags for workers only, e.g. BENCH_WORKER_FLAGS=--cpu-prof to profile a subject.
    const extra = (process.env.BENCH_WORKER_FLAGS ?? '').split(' ').filter((flag) => flag !== '');
    this.#process = fork(WORKER, [], {
      execArgv: [...WORKER_FLAGS, ...flags, ...extra],
      cwd: REPO_ROOT,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    this.#process.stderr?.setEncoding('utf8');
    this.#process.stderr?.on('data', (text: string) => {
      this.#stderr = (this.#stderr + text).slice(-STDERR_TAIL);
      // BENCH_VERBOSE=1 shows what workers print (e.g. netmachine's counters at the end of a run).
      if (process.env.BENCH_VERBOSE) process.stderr.write(`[${label}] ${text}`);
    });
    this.#process.on('message', (message: ControlMessage) => {
      if (message.type === 'error') {
        const { message: text } = (message as ErrorMessage).data;
        this.#inbox.fail(new Error(`${label}: ${text}`));
      } else this.#inbox.put(message);
    });
    this.#exited = new Promise((resolve) => {
      this.#process.once('exit', (code, signal) => {
        // The error line says more than the stack frames under it.
        const lines = this.#stderr.trim().split('\n');
        const errorLine = lines.find((line) => /\b\w*Error\b/.test(line));
        const tail = [errorLine, ...lines.slice(-2)].filter((line) => line !== undefined).join(' | ');
        this.#inbox.fail(new Error(`${label} exited (${signal ?? code})${tail ? `: ${tail}` : ''}`));
        resolve();
      });
    });
    const run: RunMessage = { type: 'run', data: { role, params } };
    this.#process.send(run);
  }

  /** `flags`: extra node flags for this worker (e.g. `--expose-gc` for the memory checks). */
  static start(label: string, role: string, params: unknown, flags: readonly string[] = []): Child {
    return new Child(label, role, params, flags);
  }

  /** The worker's process id (for reading its CPU time from /proc). */
  get pid(): number | undefined {
    return this.#process.pid;
  }

  next<T>(type: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
    return this.#inbox.next<T>(type, timeoutMs);
  }

  send(type: string, data?: unknown): void {
    // A worker that is exiting can still look connected: its pipe then fails the write (EPIPE), which
    // without a callback would be an uncaught 'error' on the process. Its exit reports what happened.
    if (this.#process.connected)
      this.#process.send({ type, data } satisfies ControlMessage, undefined, {}, () => {});
  }

  /** Asks the role to finish, then kills the process if it has not exited within `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.#process.exitCode !== null || this.#process.signalCode !== null) return;
    this.send('stop');
    const timer = setTimeout(() => this.#process.kill('SIGKILL'), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }
}

/** Stops every child, whatever state each is in. */
export async function stopAll(children: readonly Child[]): Promise<void> {
  await Promise.all(children.map((child) => child.stop()));
}
