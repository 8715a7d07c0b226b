import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A real nats-server child process on a free loopback port, for one run. */
export class NatsServer {
  readonly url: string;
  readonly #process: ChildProcess;
  readonly #dir: string;

  private constructor(url: string, child: ChildProcess, dir: string) {
    this.url = url;
    this.#process = child;
    this.#dir = dir;
  }

  /** The server's process id (for reading its CPU time). */
  get pid(): number | undefined {
    return this.#process.pid;
  }

  static async start(binary = process.env.NATS_SERVER ?? 'nats-server'): Promise<NatsServer> {
    const dir = await mkdtemp(join(tmpdir(), 'bench-nats-'));
    // `-p -1` picks a free port; the server writes the one it chose into the ports file.
    const child = spawn(binary, ['-a', '127.0.0.1', '-p', '-1', '--ports_file_dir', dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      log = (log + text).slice(-2048);
    });
    const spawnError = once(child, 'error').then(([error]) => error as Error);
    try {
      const url = await Promise.race([
        readPort(dir, child),
        spawnError.then((error) => Promise.reject(error)),
      ]);
      return new NatsServer(url, child, dir);
    } catch (error) {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      throw new Error(`nats-server did not start: ${(error as Error).message} ${log.trim()}`);
    }
  }

  async stop(): Promise<void> {
    if (this.#process.exitCode === null && this.#process.signalCode === null) {
      const exited = once(this.#process, 'exit');
      this.#process.kill('SIGTERM');
      const timer = setTimeout(() => this.#process.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(this.#dir, { recursive: true, force: true });
  }
}

async function readPort(dir: string, child: ChildProcess): Promise<string> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
    const files = (await readdir(dir)).filter((name) => name.endsWith('.ports'));
    if (files.length > 0) {
      const text = await readFile(join(dir, files[0]!), 'utf8').catch(() => '');
      try {
        const url = (JSON.parse(text) as { nats?: string[] }).nats?.[0];
        if (url !== undefined) return url;
      } catch {
        // The file may be caught half-written; read it again.
      }
    }
    await sleep(25);
  }
  throw new Error('no ports file after 5 s');
}

/** Runs `body` with a fresh nats-server, always stopping it after. */
export async function withNatsServer<T>(
  body: (url: string, pid: number | undefined) => Promise<T>,
): Promise<T> {
  const server = await NatsServer.start();
  try {
    return await body(server.url, server.pid);
  } finally {
    await server.stop();
  }
}
